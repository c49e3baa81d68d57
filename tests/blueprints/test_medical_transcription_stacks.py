"""The medical-transcription example as the contract synthesized it: snapshot, targeted assertions and
refusals; one extra synth for the switches (no vocabulary, no trail, channels, retain_data false)."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

AGNOSTIC = "MedicalTranscription-agnostic"
PINNED = "MedicalTranscription-us-east-1"
TOKEN = "<token>"


def _definition(template: dict) -> tuple[dict, list]:
    """The state machine's definition, with each CloudFormation expression replaced by TOKEN, and the parts."""
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts)), parts


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def _bucket_id(template: dict, output: str) -> str:
    value = template["Outputs"][output]["Value"]
    return (
        value["Ref"]
        if "Ref" in value
        else next(p["Ref"] for p in value["Fn::Join"][1] if isinstance(p, dict))
    )


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_audio_files_of_the_four_formats_start_the_flow(contract_templates):
    template = contract_templates[AGNOSTIC]
    (rule,) = [r for r in template["Resources"].values()
               if r["Type"] == "AWS::Events::Rule" and "Object Created" in json.dumps(r)]  # fmt: skip
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": _bucket_id(template, "AudioBucket")}]
    assert pattern["detail"]["object"]["key"] == [
        {"suffix": {"equals-ignore-case": suffix}} for suffix in (".flac", ".mp3", ".mp4", ".wav")
    ]
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target
    audio_id = _bucket_id(template, "AudioBucket")
    assert template["Resources"][audio_id]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_the_job_is_transcribe_medical_with_the_settings_and_the_stacks_key(contract_templates):
    template = contract_templates[AGNOSTIC]
    definition, parts = _definition(template)
    states = definition["States"]
    start = states["StartTranscription"]
    assert start["Resource"].endswith(":states:::aws-sdk:transcribe:startMedicalTranscriptionJob")
    parameters = start["Parameters"]
    assert {k: parameters[k] for k in ("LanguageCode", "Specialty", "Type", "OutputKey", "ContentIdentificationType")} == {
        "LanguageCode": "en-US", "Specialty": "PRIMARYCARE", "Type": "CONVERSATION", "OutputKey": "transcripts/",
        "ContentIdentificationType": "PHI"}  # fmt: skip
    assert (
        parameters["Settings"]["ShowSpeakerLabels"] is True
        and parameters["Settings"]["MaxSpeakerLabels"] == 2
    )
    # The start's response goes beside the input, which the next states read ($.job), never over it.
    assert start["ResultPath"] == "$.started" and start["Next"] == "WaitForTheJob"
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state.get("ResultPath", "$") != "$", f"{name} would replace the execution's state"
    assert any("Lambda.TooManyRequestsException" in r["ErrorEquals"] for r in states["Analyse"]["Retry"])
    # The output bucket, key and vocabulary are this stack's.
    joined = "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    results_id = _bucket_id(template, "ResultsUri")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    assert f'"OutputBucketName":"{json.dumps({"Ref": results_id})}' in joined
    assert f'"OutputEncryptionKMSKeyId":"{json.dumps({"Fn::GetAtt": [key_id, "Arn"]})}' in joined
    _, vocabulary = one_resource(template, "AWS::Transcribe::MedicalVocabulary")
    assert parameters["Settings"]["VocabularyName"] == vocabulary["Properties"]["VocabularyName"]
    # Poll, then analyse on COMPLETED, fail with Transcribe's reason on FAILED, wait again otherwise.
    assert states["WaitForTheJob"]["Seconds"] == 30
    choice = states["Done?"]
    assert [(c["StringEquals"], c["Next"]) for c in choice["Choices"]] == [
        ("COMPLETED", "Analyse"), ("FAILED", "TranscriptionFailed")]  # fmt: skip
    assert choice["Default"] == "WaitForTheJob"
    assert states["TranscriptionFailed"]["CausePath"] == "$.status.Job.FailureReason"
    assert (
        states["Analyse"]["Parameters"]["Payload"]["transcript_uri.$"]
        == "$.status.Job.Transcript.TranscriptFileUri"
    )


def test_the_vocabulary_comes_from_the_repo_file_in_en_us(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, vocabulary = one_resource(template, "AWS::Transcribe::MedicalVocabulary")
    assert vocabulary["Properties"]["LanguageCode"] == "en-US"
    # The file staged as an asset in the CDK bootstrap bucket (which CloudFormation's role reads).
    uri = vocabulary["Properties"]["VocabularyFileUri"]["Fn::Sub"]
    assert re.fullmatch(
        r"s3://cdk-hnb659fds-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}/[0-9a-f]{64}\.txt", uri
    ), uri


def test_the_state_machine_role_is_least_privilege(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = _statements(template, role_id)
    results_id = _bucket_id(template, "ResultsUri")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    (start,) = [s for s in statements if "transcribe:StartMedicalTranscriptionJob" in _actions(s)]
    assert start["Resource"] == "*"
    assert start["Condition"] == {"StringEquals": {
        "transcribe:OutputBucketName": {"Ref": results_id},
        "transcribe:OutputEncryptionKMSKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}}  # fmt: skip
    (status,) = [s for s in statements if "transcribe:GetMedicalTranscriptionJob" in _actions(s)]
    assert ":medical-transcription-job/" in json.dumps(status["Resource"]) and status["Resource"] != "*"
    (put,) = [s for s in statements if _actions(s) == ["s3:PutObject"]]
    assert json.dumps(put["Resource"]).endswith('"/transcripts/*"]]}')
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert {a for s in wildcard for a in _actions(s)} <= {
        "transcribe:StartMedicalTranscriptionJob", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        "xray:GetSamplingRules", "xray:GetSamplingTargets",
        # Step Functions' log delivery to CloudWatch Logs (AWS documents these on "*").
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups"}  # fmt: skip


def test_the_analyser_reads_transcripts_and_writes_analyses_only(contract_templates):
    template = contract_templates[AGNOSTIC]
    (function,) = [r for r in template["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function" and "Comprehend Medical" in r["Properties"].get("Description", "")]  # fmt: skip
    assert function["Properties"]["ReservedConcurrentExecutions"] == 10
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
    assert "KmsKeyArn" in function["Properties"]
    statements = _statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    by_action = {a: s for s in statements for a in _actions(s)}
    assert json.dumps(by_action["s3:GetObject"]["Resource"]).endswith('"/transcripts/*"]]}')
    assert json.dumps(by_action["s3:PutObject"]["Resource"]).endswith('"/analysis/*"]]}')
    assert by_action["comprehendmedical:DetectEntitiesV2"]["Resource"] == "*"
    assert "comprehendmedical:DetectPHI" in _actions(by_action["comprehendmedical:DetectEntitiesV2"])


def test_the_audit_trail_records_both_buckets_encrypted_and_validated(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, trail = one_resource(template, "AWS::CloudTrail::Trail")
    properties = trail["Properties"]
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    assert properties["EnableLogFileValidation"] is True
    assert properties["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "CloudWatchLogsLogGroupArn" in properties and properties["IsMultiRegionTrail"] is False
    (selector,) = properties["EventSelectors"]
    assert selector["IncludeManagementEvents"] is False and selector["ReadWriteType"] == "All"
    (data,) = selector["DataResources"]
    named = json.dumps(data["Values"])
    for output in ("AudioBucket", "ResultsUri"):
        assert _bucket_id(template, output) in named
    # CloudTrail may encrypt with the key for this account's trails only.
    _, key = one_resource(template, "AWS::KMS::Key")
    (allow,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudTrailToEncryptItsLogs"
    ]
    assert "kms:EncryptionContext:aws:cloudtrail:arn" in json.dumps(allow["Condition"])
    # A bucket-key bucket needs kms:Decrypt for CloudTrail too (CloudTrail User Guide).
    (describe,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudTrailToDescribeTheKey"
    ]
    assert set(describe["Action"]) == {"kms:DescribeKey", "kms:Decrypt"}
    assert "aws:SourceArn" in describe["Condition"]["StringEquals"]
    # Only this trail may write to its bucket.
    (deny,) = [st for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"
               for st in r["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Deny"
               and st.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}]  # fmt: skip
    assert f":trail/{properties['TrailName']}" in json.dumps(
        deny["Condition"]["StringNotEquals"]["aws:SourceArn"]
    )


def test_data_is_retained(contract_templates):
    template = contract_templates[AGNOSTIC]
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
            assert resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"), resource["Type"]


def test_regions_are_asserted_when_agnostic_and_not_when_pinned(contract_templates):
    rules = contract_templates[AGNOSTIC]["Rules"]
    text = json.dumps(rules)
    assert "Transcribe Medical with Comprehend Medical" in text and "ap-southeast-2" in text
    assert "ap-northeast-1" not in json.dumps([r for n, r in rules.items() if n.startswith("Services")])
    assert not any(
        n.startswith(("Services", "ResourceTypes")) for n in contract_templates[PINNED].get("Rules", {})
    )
    assert "MedicalTranscription-ap-southeast-2" in contract_templates


def test_switches_change_what_is_built():
    stacks = {"Plain": {"blueprint": "medical-transcription", "custom_vocabulary": False, "audit_trail": False,
                        "speaker_labels": False, "channel_identification": True, "identify_phi": False,
                        "retain_data": False, "transcription_type": "DICTATION"}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    template = app.synth().get_stack_by_name("Plain").template
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::Transcribe::MedicalVocabulary" not in types and "AWS::CloudTrail::Trail" not in types
    definition, _ = _definition(template)
    parameters = definition["States"]["StartTranscription"]["Parameters"]
    assert parameters["Settings"] == {"ChannelIdentification": True}
    assert parameters["Type"] == "DICTATION" and "ContentIdentificationType" not in parameters
    buckets = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert buckets and all(r["DeletionPolicy"] == "Delete" for r in buckets)


def test_refusals_are_reported_at_once(tmp_path):
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("Phrase\tIPA\tSoundsLike\tDisplayAs\ntype 2\t\t\t\n", encoding="utf-8")
    stacks = {
        "Bad": {"blueprint": "medical-transcription", "language_code": "fr-FR", "specialty": "ONCOLOGY",
                "max_speakers": 40, "vocabulary_file": str(vocabulary), "notification_email": "nobody",
                "env": {"account": "123456789012", "region": "ap-northeast-1"}},
    }  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("not offered in ap-northeast-1", "US English (en-US) only", "specialty 'ONCOLOGY'",
                     "max_speakers 40", "Phrase 'type 2'", "notification_email"):  # fmt: skip
        assert expected in message, expected
