"""The human review examples (document-review, moderation-review) as the contract synthesized them:
snapshot, targeted assertions, refusals; one extra synth for retain_data false and an existing workforce."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from conftest import ACCOUNT, cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.blueprints.document_review.settings import DocumentReviewSettings
from mlblueprints.blueprints.moderation_review.settings import ModerationReviewSettings
from mlblueprints.blueprints.registry import BLUEPRINTS
from mlblueprints.constructs.a2i.activation_conditions import conditions_json
from mlblueprints.constructs.a2i.task_ui import TEMPLATES_DIR

INVOICE = "InvoiceReview-agnostic"
MODERATION = "ImageModeration-agnostic"
_RETAINED = {"Retain", "RetainExceptOnCreate"}
# What retain_data promises to keep (README): the buckets, the KMS key, the user pool and the log groups.
_DATA_TYPES = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Cognito::UserPool", "AWS::Logs::LogGroup")


def _problems(stacks: dict) -> str:
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    return str(caught.value)


def _output_ref(template: dict, output: str) -> str:
    return template["Outputs"][output]["Value"]["Ref"]


def _flow_definition_arn(template: dict) -> dict:
    logical_id, _ = one_resource(template, "Custom::A2iFlowDefinition")
    return {"Fn::GetAtt": [logical_id, "FlowDefinitionArn"]}


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for policy in Template.from_json(template).find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


@pytest.fixture(scope="module")
def extra_templates() -> dict[str, dict]:
    """One synth of two stacks the examples do not show: everything deleted with the stack, and a
    second review stack on the account's existing workforce."""
    stacks = {
        "Throwaway": {"blueprint": "document-review", "retain_data": False},
        "SecondTeam": {
            "blueprint": "moderation-review",
            "workforce": {"existing_user_pool_id": "us-east-1_AbCdEf123", "existing_client_id": "client123"},
            "env": {"account": ACCOUNT, "region": "us-east-1"},
        },
    }
    assembly = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)})).synth()
    return {name: assembly.get_stack_by_name(name).template for name in stacks}


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[INVOICE]) == snapshot_json


# --- Workforce ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [INVOICE, MODERATION])
def test_a_new_workforce_on_a_secure_user_pool(contract_templates, key):
    template = contract_templates[key]
    pool_id, pool = one_resource(template, "AWS::Cognito::UserPool")
    properties = pool["Properties"]
    assert properties["MfaConfiguration"] == "ON"
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert properties["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 14,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "RequireUppercase": True,
        "TemporaryPasswordValidityDays": 3,
    }
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up
    # Threat protection in full-function mode needs the Plus feature plan.
    assert properties["UserPoolTier"] == "PLUS"
    assert properties["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert properties["AccountRecoverySetting"]["RecoveryMechanisms"] == [
        {"Name": "verified_email", "Priority": 1}
    ]
    assert properties["DeletionProtection"] == "ACTIVE"  # while retained

    client_id, client = one_resource(template, "AWS::Cognito::UserPoolClient")
    assert client["Properties"]["GenerateSecret"] is True
    assert client["Properties"]["UserPoolId"] == {"Ref": pool_id}
    # SageMaker configures the client's OAuth settings for its portal; the template sets none.
    assert not {"CallbackURLs", "AllowedOAuthFlows", "AllowedOAuthScopes"} & set(client["Properties"])
    _, domain = one_resource(template, "AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["UserPoolId"] == {"Ref": pool_id}

    workforce_id, workforce = one_resource(template, "AWS::SageMaker::Workforce")
    assert workforce["Properties"]["CognitoConfig"] == {
        "ClientId": {"Ref": client_id},
        "UserPool": {"Ref": pool_id},
    }
    group_id, group = one_resource(template, "AWS::Cognito::UserPoolGroup")
    assert group["Properties"]["GroupName"] == "reviewers"
    _, workteam = one_resource(template, "AWS::SageMaker::Workteam")
    assert workteam["Properties"]["MemberDefinitions"] == [
        {
            "CognitoMemberDefinition": {
                "CognitoClientId": {"Ref": client_id},
                "CognitoUserGroup": {"Ref": group_id},
                "CognitoUserPool": {"Ref": pool_id},
            }
        }
    ]
    assert workteam["Properties"]["WorkforceName"] == workforce["Properties"]["WorkforceName"]
    assert workforce_id in workteam["DependsOn"]
    outputs = template["Outputs"]
    assert outputs["ReviewersUserPool"]["Value"] == {"Ref": pool_id}
    assert outputs["ReviewersClient"]["Value"] == {"Ref": client_id}


def test_source_ip_restriction_only_where_configured(contract_templates):
    _, moderation = one_resource(contract_templates[MODERATION], "AWS::SageMaker::Workforce")
    assert moderation["Properties"]["SourceIpConfig"] == {"Cidrs": ["203.0.113.0/24"]}
    _, invoice = one_resource(contract_templates[INVOICE], "AWS::SageMaker::Workforce")
    assert "SourceIpConfig" not in invoice["Properties"]


def test_an_existing_workforce_creates_no_pool_and_joins_the_given_one(extra_templates):
    template = extra_templates["SecondTeam"]
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & {
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolDomain",
        "AWS::SageMaker::Workforce",
    }
    group_id, group = one_resource(template, "AWS::Cognito::UserPoolGroup")
    assert group["Properties"]["UserPoolId"] == "us-east-1_AbCdEf123"
    _, workteam = one_resource(template, "AWS::SageMaker::Workteam")
    assert "WorkforceName" not in workteam["Properties"]  # the account's default workforce
    assert workteam["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"] == {
        "CognitoClientId": "client123",
        "CognitoUserGroup": {"Ref": group_id},
        "CognitoUserPool": "us-east-1_AbCdEf123",
    }


# --- Task UI and flow definition ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "settings"), [(INVOICE, DocumentReviewSettings), (MODERATION, ModerationReviewSettings)]
)
def test_the_task_ui_is_the_catalogs_template(contract_templates, key, settings):
    _, ui = one_resource(contract_templates[key], "AWS::SageMaker::HumanTaskUi")
    expected = (TEMPLATES_DIR / settings.default_template).read_text(encoding="utf-8")
    assert ui["Properties"]["UiTemplate"]["Content"] == expected


def test_flow_definition_properties(contract_templates):
    template = contract_templates[INVOICE]
    _, flow = one_resource(template, "Custom::A2iFlowDefinition")
    properties = flow["Properties"]
    assert properties["HumanLoopRequestSource"] == {
        "AwsManagedHumanLoopRequestSource": "AWS/Textract/AnalyzeDocument/Forms/V1"
    }
    conditions = properties["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"][
        "HumanLoopActivationConditions"
    ]
    assert isinstance(conditions, str)  # SageMaker takes a JSON string
    assert conditions == conditions_json(DocumentReviewSettings.default_conditions)
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    results = template["Outputs"]["ResultsUri"]["Value"]["Fn::Join"][1][1]["Ref"]
    assert properties["OutputConfig"] == {
        "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": results}, "/human-review/"]]},
        "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    workteam_id, _ = one_resource(template, "AWS::SageMaker::Workteam")
    ui_id, _ = one_resource(template, "AWS::SageMaker::HumanTaskUi")
    assert properties["HumanLoopConfig"] == {
        "WorkteamArn": {"Fn::GetAtt": [workteam_id, "WorkteamArn"]},
        "HumanTaskUiArn": {"Fn::GetAtt": [ui_id, "HumanTaskUiArn"]},
        "TaskTitle": "Check the fields of an invoice",  # the example's, not the default
        "TaskDescription": DocumentReviewSettings.default_description,
        "TaskCount": 1,
        "TaskAvailabilityLifetimeInSeconds": 24 * 3600,
        "TaskTimeLimitInSeconds": 3600,
    }
    assert template["Outputs"]["FlowDefinitionArn"]["Value"] == _flow_definition_arn(template)


def test_moderation_flow_definition_takes_the_configured_conditions(contract_templates):
    _, flow = one_resource(contract_templates[MODERATION], "Custom::A2iFlowDefinition")
    properties = flow["Properties"]
    assert properties["HumanLoopRequestSource"] == {
        "AwsManagedHumanLoopRequestSource": "AWS/Rekognition/DetectModerationLabels/Image/V3"
    }
    example = json.loads(BLUEPRINTS["moderation-review"].example.read_text())["stacks"]["ImageModeration"][
        "activation_conditions"
    ]
    config = properties["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"]
    assert json.loads(config["HumanLoopActivationConditions"]) == example


def test_flow_definition_role_reads_inputs_and_writes_answers_only(contract_templates):
    template = contract_templates[INVOICE]
    _, flow = one_resource(template, "Custom::A2iFlowDefinition")
    role_id = flow["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    inputs = _output_ref(template, "InputBucket")
    results = template["Outputs"]["ResultsUri"]["Value"]["Fn::Join"][1][1]["Ref"]
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    assert _statements(template, role_id) == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [results, "Arn"]}, "/human-review/*"]]},
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [inputs, "Arn"]}, "/*"]]},
        },
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    ]
    # The custom resource waits for the role's permissions.
    (policy_id,) = [
        logical_id
        for logical_id, policy in Template.from_json(template).find_resources("AWS::IAM::Policy").items()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert set(flow["DependsOn"]) == {role_id, policy_id}


def test_the_handler_touches_only_its_own_flow_definitions(contract_templates):
    template = contract_templates[INVOICE]
    _, flow = one_resource(template, "Custom::A2iFlowDefinition")
    prefix = flow["Properties"]["NamePrefix"]
    statements = [
        statement
        for policy in Template.from_json(template).find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any("FlowDefinition" in action for action in _actions(statement))
    ]
    (statement,) = statements  # no other role may create or delete flow definitions
    assert sorted(_actions(statement)) == [
        "sagemaker:CreateFlowDefinition",
        "sagemaker:DeleteFlowDefinition",
        "sagemaker:DescribeFlowDefinition",
    ]
    parts = statement["Resource"]["Fn::Join"][1]
    assert parts[-1] == f":flow-definition/{prefix}-*"
    assert {"Ref": "AWS::Region"} in parts and {"Ref": "AWS::AccountId"} in parts


# --- Analysis flow and notifications ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "call", "loop"),
    [
        (INVOICE, "textract:analyzeDocument", "document-{}"),
        (MODERATION, "rekognition:detectModerationLabels", "image-{}"),
    ],
)
def test_state_machine_calls_the_service_with_a_human_loop(contract_templates, key, call, loop):
    template = contract_templates[key]
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    properties = machine["Properties"]
    parts = properties["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    assert f":states:::aws-sdk:{call}" in text
    assert (
        '"HumanLoopConfig":{"HumanLoopName.$":' in text and f"States.Format('{loop}', States.UUID())" in text
    )
    # The flow definition's ARN is the one of this stack's custom resource, right after FlowDefinitionArn.
    index = parts.index(_flow_definition_arn(template))
    assert parts[index - 1].endswith('"FlowDefinitionArn":"')
    assert ":states:::aws-sdk:s3:putObject" in text and "analysis/{}.json" in text
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    assert template["Resources"][log_group_id]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["EncryptionConfiguration"]["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    # The state machine may start loops of its own flow definition only.
    (start,) = [s for s in _statements(template, properties["RoleArn"]["Fn::GetAtt"][0])
                if "sagemaker:StartHumanLoop" in _actions(s)]  # fmt: skip
    assert start["Resource"] == _flow_definition_arn(template)


@pytest.mark.parametrize("key", [INVOICE, MODERATION])
def test_event_rules_with_dead_letter_queues(contract_templates, key):
    template = contract_templates[key]
    rules = Template.from_json(template).find_resources("AWS::Events::Rule")
    machine_id, _ = one_resource(template, "AWS::StepFunctions::StateMachine")
    queue_id, _ = one_resource(template, "AWS::SQS::Queue")
    topic_id, _ = one_resource(template, "AWS::SNS::Topic")
    dead_letters = {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    (created,) = [r for r in rules.values() if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]]
    assert created["Properties"]["EventPattern"] == {
        "detail": {"bucket": {"name": [{"Ref": _output_ref(template, "InputBucket")}]}},
        "detail-type": ["Object Created"],
        "source": ["aws.s3"],
    }
    (target,) = created["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine_id} and target["DeadLetterConfig"] == dead_letters
    (loops,) = [r for r in rules.values() if r["Properties"]["EventPattern"]["source"] == ["aws.sagemaker"]]
    assert loops["Properties"]["EventPattern"] == {
        "detail": {"flowDefinitionArn": [_flow_definition_arn(template)]},
        "detail-type": ["SageMaker A2I HumanLoop Status Change"],
        "source": ["aws.sagemaker"],
    }
    (target,) = loops["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": topic_id} and target["DeadLetterConfig"] == dead_letters
    assert len(rules) == 2


def test_input_bucket_allows_the_portal_and_tells_eventbridge(contract_templates):
    template = contract_templates[INVOICE]
    inputs = template["Resources"][_output_ref(template, "InputBucket")]["Properties"]
    assert inputs["CorsConfiguration"] == {
        "CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]
    }
    assert inputs["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert (
        inputs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )


def test_notification_email_is_subscribed(contract_templates):
    Template.from_json(contract_templates[INVOICE]).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "review-leads@example.com"}
    )


# --- Retention ------------------------------------------------------------------------------------------


def _policies(template: dict) -> dict[str, tuple[str, str | None]]:
    return {
        logical_id: (r["Type"], r.get("DeletionPolicy"))
        for logical_id, r in template["Resources"].items()
        if r["Type"] in _DATA_TYPES
    }


def test_data_is_retained_by_default(contract_templates):
    policies = _policies(contract_templates[INVOICE])
    assert sorted(t for t, _ in policies.values()) == sorted(
        ["AWS::S3::Bucket"] * 4 + ["AWS::KMS::Key", "AWS::Cognito::UserPool"] + ["AWS::Logs::LogGroup"] * 3
    )
    assert {logical_id for logical_id, (_, policy) in policies.items() if policy not in _RETAINED} == set()


def test_retain_data_false_deletes_it_with_the_stack(extra_templates):
    template = extra_templates["Throwaway"]
    policies = _policies(template)
    assert len(policies) == 9
    assert {policy for _, policy in policies.values()} == {"Delete"}
    _, pool = one_resource(template, "AWS::Cognito::UserPool")
    assert pool["Properties"]["DeletionProtection"] == "INACTIVE"  # else CloudFormation could not delete it


# --- Regions --------------------------------------------------------------------------------------------


def test_agnostic_templates_assert_the_region_at_deploy(contract_templates):
    rules = contract_templates[INVOICE]["Rules"]
    (a2i,) = [rule for name, rule in rules.items() if name.startswith("A2iRegion")]
    (assertion,) = a2i["Assertions"]
    assert assertion["Assert"]["Fn::Contains"][1] == {"Ref": "AWS::Region"}
    assert "sa-east-1" not in assertion["Assert"]["Fn::Contains"][0]
    assert "us-east-1" in assertion["Assert"]["Fn::Contains"][0]
    descriptions = [
        assertion["AssertDescription"]
        for name, rule in rules.items()
        if name.startswith("ResourceTypes")
        for assertion in rule["Assertions"]
    ]
    assert any(d.startswith("A new private workforce needs AWS::Cognito::UserPool") for d in descriptions)
    assert any(d.startswith("Human review needs AWS::SageMaker::HumanTaskUi") for d in descriptions)
    # Pinned stacks are checked at synth instead.
    for pinned in ("InvoiceReview-us-east-1", "ImageModeration-eu-west-1", "ImageModeration-ap-northeast-1"):
        assert not any(
            name.startswith(("A2iRegion", "ResourceTypes"))
            for name in contract_templates[pinned].get("Rules", {})
        ), pinned


# --- Refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"workforce": {"existing_user_pool_id": "us-east-1_AbC123"}},
         "workforce: give existing_user_pool_id and existing_client_id together"),
        ({"workforce": {"existing_client_id": "client123"}},
         "workforce: give existing_user_pool_id and existing_client_id together"),
        ({"workforce": {"existing_user_pool_id": "us-east-1_AbC123", "existing_client_id": "c",
                        "allowed_source_cidrs": ["203.0.113.0/24"]}},
         "workforce.allowed_source_cidrs is for a new workforce"),
        ({"workforce": {"allowed_source_cidrs": [f"10.{i}.0.0/16" for i in range(11)]}},
         "allowed_source_cidrs has 11 blocks; SageMaker takes at most 10."),
        ({"workforce": {"allowed_source_cidrs": ["10.0.0.0/33"]}}, "allowed_source_cidrs: '10.0.0.0/33' is not a network"),
        ({"env": {"account": ACCOUNT, "region": "cn-north-1"}}, "Amazon A2I is not offered in cn-north-1"),
        ({"env": {"account": ACCOUNT, "region": "sa-east-1"}}, "Amazon A2I is not offered in sa-east-1"),
        ({"notification_email": "nobody"}, "notification_email='nobody' is not an email address"),
        ({"activation_conditions": {"Conditions": [{"ConditionType": "ModerationLabelConfidenceCheck",
                                                    "ConditionParameters": {}}]}},
         "activation conditions: Conditions[0] has ConditionType 'ModerationLabelConfidenceCheck', which AWS/Textract/AnalyzeDocument/Forms/V1 does not take"),
        ({"activation_conditions": {"Conditions": [{"ConditionType": "Sampling",
                                                    "ConditionParameters": {"RandomSamplingPercentage": 0}}]}},
         "activation conditions: Conditions[0].RandomSamplingPercentage=0: use a number from 0.01 to 100."),
        ({"task_template": "/nonexistent/task.liquid.html"},
         "task template /nonexistent/task.liquid.html does not exist"),
        ({"task_count": 4}, "task_count=4: use 1 to 3 reviewers per object."),
        ({"task_time_limit_minutes": 120, "task_availability_hours": 1},
         "task_availability_lifetime is shorter than task_time_limit"),
        ({"task_title": "t" * 129}, "task_title must be 1 to 128 characters long (is 129)"),
    ],
)  # fmt: skip
def test_refusals(entry, expected):
    message = _problems({"Review": {"blueprint": "document-review", **entry}})
    assert f"Stack 'Review': {expected}" in message


def test_every_problem_of_a_config_at_once():
    message = _problems(
        {
            "Everything": {
                "blueprint": "moderation-review",
                "env": {"account": ACCOUNT, "region": "sa-east-1"},
                "workforce": {"existing_user_pool_id": "us-east-1_AbC123", "allowed_source_cidrs": ["bad"]},
                "notification_email": "nobody",
                "activation_conditions": {"Conditions": [{"And": []}]},
                "task_count": 5,
                "unknown_setting": 1,
            }
        }
    )
    assert message.startswith("8 problem(s)")
    for expected in (
        "unknown setting 'unknown_setting'",
        "Amazon A2I is not offered in sa-east-1",
        "workforce: give existing_user_pool_id and existing_client_id together",
        "workforce.allowed_source_cidrs is for a new workforce",
        "allowed_source_cidrs: 'bad' is not a network",
        "notification_email='nobody'",
        "activation conditions: Conditions[0].And must be a list of at least 2",
        "task_count=5",
    ):
        assert f"Stack 'Everything': {expected}" in message, expected


def test_zero_task_settings_are_reported_with_the_other_problems():
    message = _problems(
        {"Zero": {"blueprint": "document-review", "task_count": 0, "task_time_limit_minutes": 0,
                  "notification_email": "nobody"}}
    )  # fmt: skip
    for expected in ("notification_email='nobody'", "task_count=0", "task_time_limit is 0 s"):
        assert expected in message, expected
