"""The A2I constructs' checks and ConfidenceGate: every refusal by its message, the gate's template.

The rule functions (task template, activation conditions, flow definition, region, workforce) are
pure: they are tested without a stack. One small stack (a custom-task-type flow definition and a
ConfidenceGate in front of an endpoint) is synthesized once for the module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App, Aws, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from conftest import ACCOUNT, REPO, cdk_json_context

from mlblueprints.blueprints.document_review.settings import DocumentReviewSettings
from mlblueprints.blueprints.moderation_review.settings import ModerationReviewSettings
from mlblueprints.constructs.a2i.activation_conditions import (
    A2iTaskType,
    activation_conditions_problems,
    conditions_json,
)
from mlblueprints.constructs.a2i.confidence_gate import ConfidenceGate, ConfidenceGateError
from mlblueprints.constructs.a2i.flow_definition import (
    A2I_REGIONS,
    FlowDefinition,
    FlowDefinitionError,
    a2i_region_problems,
    flow_definition_problems,
)
from mlblueprints.constructs.a2i.task_ui import (
    CROWD_HTML_ELEMENTS,
    TEMPLATES_DIR,
    HumanTaskUi,
    TaskUiError,
    task_template_problems,
)
from mlblueprints.constructs.a2i.workforce import PrivateWorkforce, WorkforceError, workforce_problems

TEXTRACT = A2iTaskType.TEXTRACT_FORMS
REKOGNITION = A2iTaskType.REKOGNITION_MODERATION
WORKTEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/reviewers"
UI = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:human-task-ui/review-ui"


def _messages(problems) -> str:
    return "\n".join(p.message for p in problems)


# --- Task templates ---------------------------------------------------------------------------------

_VALID = f'<script src="{CROWD_HTML_ELEMENTS}"></script>\n<crowd-form>\n  <p>{{{{ task.input.x }}}}</p>\n</crowd-form>\n'


def _template(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.liquid.html"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES_DIR.glob("*.html")))
def test_the_catalogs_templates_pass(name):
    assert task_template_problems(TEMPLATES_DIR / name) == []


def test_a_valid_template_of_exactly_the_limit_passes(tmp_path):
    text = _VALID + "x" * (128_000 - len(_VALID))
    assert task_template_problems(_template(tmp_path, text)) == []


def test_missing_template(tmp_path):
    (problem,) = task_template_problems(tmp_path / "nowhere.html")
    assert "nowhere.html does not exist (or is not a file)" in problem.message
    assert problem.setting == "task_template"
    # A directory is not a template either.
    (problem,) = task_template_problems(tmp_path)
    assert "does not exist (or is not a file)" in problem.message


def test_template_over_128000_characters(tmp_path):
    text = _VALID + "x" * (128_001 - len(_VALID))
    (problem,) = task_template_problems(_template(tmp_path, text))
    assert "has 128,001 characters; SageMaker takes at most 128,000" in problem.message


def test_template_without_crowd_html_elements(tmp_path):
    (problem,) = task_template_problems(_template(tmp_path, "<crowd-form></crowd-form>"))
    assert f'does not load <script src="{CROWD_HTML_ELEMENTS}"></script>' in problem.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<form></form>", "has 0 <crowd-form> and 0 </crowd-form>"),
        ("<crowd-form></crowd-form><crowd-form></crowd-form>", "has 2 <crowd-form> and 2 </crowd-form>"),
        ("<crowd-form>", "has 1 <crowd-form> and 0 </crowd-form>"),
    ],
)
def test_template_needs_exactly_one_crowd_form(tmp_path, body, expected):
    text = f'<script src="{CROWD_HTML_ELEMENTS}"></script>{body}'
    (problem,) = task_template_problems(_template(tmp_path, text))
    assert expected in problem.message


def test_every_template_problem_at_once(tmp_path):
    problems = task_template_problems(_template(tmp_path, "y" * 128_001))
    assert len(problems) == 3
    message = _messages(problems)
    for expected in ("128,001 characters", "does not load", "has 0 <crowd-form>"):
        assert expected in message, expected


def test_human_task_ui_refuses_a_bad_template_and_names_the_ui_after_its_content(tmp_path):
    stack = Stack(App(), "Ui")
    with pytest.raises(TaskUiError, match="does not load"):
        HumanTaskUi(stack, "Bad", template=_template(tmp_path, "<crowd-form></crowd-form>"))
    first = HumanTaskUi(stack, "First", template=_template(tmp_path, _VALID)).resource
    other = tmp_path / "other.html"
    other.write_text(_VALID + "<!-- changed -->", encoding="utf-8")
    second = HumanTaskUi(stack, "Second", template=other).resource
    # The UI's template is create-only: a changed template is a new name (its digest), lowercase for SageMaker.
    for resource in (first, second):
        assert re.fullmatch(r"[a-z0-9](-?[a-z0-9])*", resource.human_task_ui_name), (
            resource.human_task_ui_name
        )
        assert len(resource.human_task_ui_name) <= 63
    assert first.human_task_ui_name.rsplit("-", 1)[1] != second.human_task_ui_name.rsplit("-", 1)[1]


# --- Activation conditions --------------------------------------------------------------------------


def _check(condition_type: str, parameters) -> dict:
    return {"ConditionType": condition_type, "ConditionParameters": parameters}


_SAMPLING = _check("Sampling", {"RandomSamplingPercentage": 5})
_FORM_KEY = _check(
    "ImportantFormKeyConfidenceCheck", {"ImportantFormKey": "Total", "KeyValueBlockConfidenceLessThan": 90}
)
_LABEL = _check("ModerationLabelConfidenceCheck", {"ModerationLabelName": "*", "ConfidenceLessThan": 90})


@pytest.mark.parametrize(
    ("task_type", "conditions"),
    [
        (TEXTRACT, DocumentReviewSettings.default_conditions),
        (REKOGNITION, ModerationReviewSettings.default_conditions),
        (TEXTRACT, {"Conditions": [_check("MissingImportantFormKey", {"ImportantFormKey": "Date",
                                                                       "ImportantFormKeyAliases": ["Day"]})]}),
        # And / Or two levels deep, RandomSamplingPercentage at its lowest, bounds at 0 and 100.
        (TEXTRACT, {"Conditions": [{"Or": [{"And": [_FORM_KEY, _SAMPLING]}, _check("Sampling", {"RandomSamplingPercentage": 0.01})]}]}),
        (REKOGNITION, {"Conditions": [_check("ModerationLabelConfidenceCheck",
                                             {"ModerationLabelName": "x", "ConfidenceGreaterThan": 0, "ConfidenceLessThan": 100})]}),
    ],
)  # fmt: skip
def test_valid_activation_conditions(task_type, conditions):
    assert activation_conditions_problems(task_type, conditions) == []


@pytest.mark.parametrize(
    ("task_type", "conditions", "expected"),
    [
        (TEXTRACT, [_SAMPLING], 'must be an object with one key, "Conditions"'),
        (TEXTRACT, {"Conditions": [_SAMPLING], "Version": 1}, 'must be an object with one key, "Conditions"'),
        (TEXTRACT, {"Conditions": []}, "Conditions must be a list of at least 1 condition(s)"),
        (TEXTRACT, {"Conditions": [_LABEL]},
         "Conditions[0] has ConditionType 'ModerationLabelConfidenceCheck', which AWS/Textract/AnalyzeDocument/Forms/V1 "
         "does not take; use one of ImportantFormKeyConfidenceCheck, MissingImportantFormKey, Sampling"),
        (REKOGNITION, {"Conditions": [_FORM_KEY]},
         "which AWS/Rekognition/DetectModerationLabels/Image/V3 does not take; use one of "
         "ModerationLabelConfidenceCheck, Sampling"),
        (TEXTRACT, {"Conditions": [_check("Sampling", {"RandomSamplingPercentage": 5, "Confidence": 3})]},
         "Conditions[0] (Sampling) has no parameter 'Confidence'; it takes RandomSamplingPercentage"),
        (REKOGNITION, {"Conditions": [_check("ModerationLabelConfidenceCheck", {"ConfidenceLessThan": 90})]},
         "Conditions[0] (ModerationLabelConfidenceCheck) needs ModerationLabelName."),
        (TEXTRACT, {"Conditions": [_check("ImportantFormKeyConfidenceCheck",
                                          {"ImportantFormKey": 5, "WordBlockConfidenceLessThan": 50})]},
         "Conditions[0].ImportantFormKey must be a non-empty string."),
        (TEXTRACT, {"Conditions": [_check("MissingImportantFormKey",
                                          {"ImportantFormKey": "Date", "ImportantFormKeyAliases": "Day"})]},
         "Conditions[0].ImportantFormKeyAliases must be a list of strings."),
        (TEXTRACT, {"Conditions": [_check("ImportantFormKeyConfidenceCheck",
                                          {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 101})]},
         "Conditions[0].KeyValueBlockConfidenceLessThan=101: use a number from 0 to 100."),
        (REKOGNITION, {"Conditions": [_check("ModerationLabelConfidenceCheck",
                                             {"ModerationLabelName": "*", "ConfidenceGreaterThan": -1})]},
         "Conditions[0].ConfidenceGreaterThan=-1: use a number from 0 to 100."),
        (REKOGNITION, {"Conditions": [_check("ModerationLabelConfidenceCheck",
                                             {"ModerationLabelName": "*", "ConfidenceGreaterThan": True})]},
         "Conditions[0].ConfidenceGreaterThan=True: use a number from 0 to 100."),
        (TEXTRACT, {"Conditions": [_check("Sampling", {"RandomSamplingPercentage": 0.001})]},
         "Conditions[0].RandomSamplingPercentage=0.001: use a number from 0.01 to 100."),
        (TEXTRACT, {"Conditions": [_check("Sampling", {"RandomSamplingPercentage": 100.5})]},
         "RandomSamplingPercentage=100.5: use a number from 0.01 to 100."),
        (TEXTRACT, {"Conditions": [{"And": [_SAMPLING]}]},
         "Conditions[0].And must be a list of at least 2 condition(s)."),
        (TEXTRACT, {"Conditions": [{"Or": "Sampling"}]}, "Conditions[0].Or must be a list of at least 2"),
        (TEXTRACT, {"Conditions": [{"Or": [{"And": [{"Or": [_SAMPLING, _SAMPLING]}, _SAMPLING]}, _SAMPLING]}]},
         "Conditions[0].Or[0].And[0] nests And / Or more than two levels deep."),
        (TEXTRACT, {"Conditions": [_check("ImportantFormKeyConfidenceCheck", {"ImportantFormKey": "Total"})]},
         "Conditions[0] (ImportantFormKeyConfidenceCheck) needs a confidence bound (KeyValueBlockConfidenceEquals"),
        (REKOGNITION, {"Conditions": [_check("ModerationLabelConfidenceCheck", {"ModerationLabelName": "*"})]},
         "(ModerationLabelConfidenceCheck) needs a confidence bound (ConfidenceEquals"),
        (TEXTRACT, {"Conditions": [_check("Sampling", [5])]}, "Conditions[0].ConditionParameters must be an object."),
        (TEXTRACT, {"Conditions": [{"ConditionType": "Sampling"}]},
         "Conditions[0] must be a condition (ConditionType and ConditionParameters) or an And / Or list"),
    ],
)  # fmt: skip
def test_activation_condition_problems(task_type, conditions, expected):
    problems = activation_conditions_problems(task_type, conditions)
    assert len(problems) == 1, _messages(problems)
    assert expected in problems[0].message
    assert problems[0].setting == "activation_conditions"


def test_activation_conditions_longer_than_10240_characters():
    entry = _check(
        "ImportantFormKeyConfidenceCheck", {"ImportantFormKey": "k" * 100, "WordBlockConfidenceLessThan": 5}
    )
    fitting = {"Conditions": [entry] * (10_240 // len(conditions_json(entry)) - 1)}
    assert len(conditions_json(fitting)) <= 10_240
    assert activation_conditions_problems(TEXTRACT, fitting) == []
    too_long = {"Conditions": [entry] * (10_240 // len(conditions_json(entry)) + 1)}
    (problem,) = activation_conditions_problems(TEXTRACT, too_long)
    assert (
        f"activation conditions are {len(conditions_json(too_long)):,} characters as JSON" in problem.message
    )
    assert "SageMaker takes at most 10,240" in problem.message


def test_every_activation_condition_problem_at_once_and_the_setting_name():
    conditions = {
        "Conditions": [
            _check("Sampling", {"RandomSamplingPercentage": 0}),
            {"And": [_LABEL]},
            _check("ImportantFormKeyConfidenceCheck", {"ImportantFormKey": "", "Extra": 1}),
        ]
    }
    problems = activation_conditions_problems(TEXTRACT, conditions, setting="flow.conditions")
    message = _messages(problems)
    for expected in (
        "Conditions[0].RandomSamplingPercentage=0",
        "Conditions[1].And must be a list of at least 2",
        "Conditions[2] (ImportantFormKeyConfidenceCheck) has no parameter 'Extra'",
        "Conditions[2].ImportantFormKey must be a non-empty string",
        "Conditions[2] (ImportantFormKeyConfidenceCheck) needs a confidence bound",
    ):
        assert expected in message, expected
    assert {p.setting for p in problems} == {"flow.conditions"}


@pytest.mark.parametrize("kind", [["Sampling"], {"Sampling": 1}])
def test_an_unhashable_condition_type_is_a_problem_not_a_crash(kind):
    problems = activation_conditions_problems(
        TEXTRACT, {"Conditions": [{"ConditionType": kind, "ConditionParameters": {}}]}
    )
    assert len(problems) == 1 and "does not take" in problems[0].message


def test_conditions_json_is_compact():
    assert conditions_json({"Conditions": [_SAMPLING]}) == (
        '{"Conditions":[{"ConditionType":"Sampling","ConditionParameters":{"RandomSamplingPercentage":5}}]}'
    )


# --- Flow definition rules --------------------------------------------------------------------------


def _flow_problems(**overrides):
    arguments = {
        "task_type": TEXTRACT,
        "activation_conditions": DocumentReviewSettings.default_conditions,
        "task_title": "Check the form",
        "task_description": "Correct the fields",
        "task_count": 1,
        "task_time_limit": Duration.hours(1),
        "task_availability_lifetime": Duration.days(1),
    } | overrides
    return flow_definition_problems(**arguments)


def test_valid_flow_definitions():
    assert _flow_problems() == []
    assert _flow_problems(task_type=None, activation_conditions=None) == []
    # The bounds themselves: 3 reviewers, 30 s, a lifetime equal to the time limit.
    assert _flow_problems(task_count=3, task_time_limit=Duration.seconds(30),
                          task_availability_lifetime=Duration.seconds(30)) == []  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "setting", "expected"),
    [
        ({"task_type": None}, "activation_conditions",
         "activation conditions are for the built-in task types (Textract, Rekognition): a custom task type starts"),
        ({"activation_conditions": None}, "activation_conditions",
         "AWS/Textract/AnalyzeDocument/Forms/V1 needs activation conditions: without them A2I sends every request"),
        ({"activation_conditions": {"Conditions": [_LABEL]}}, "activation_conditions", "does not take"),
        ({"task_title": "t" * 129}, "task_title", "task_title must be 1 to 128 characters long (is 129)"),
        ({"task_title": ""}, "task_title", "task_title must be 1 to 128 characters long (is 0)"),
        ({"task_description": ""}, "task_description", "task_description must be"),
        ({"task_count": 4}, "task_count", "task_count=4: use 1 to 3 reviewers per object."),
        ({"task_count": 0}, "task_count", "task_count=0: use 1 to 3 reviewers per object."),
        ({"task_time_limit": Duration.seconds(29), "task_availability_lifetime": Duration.minutes(1)},
         "task_time_limit", "task_time_limit is 29 s; SageMaker needs at least 30 s."),
        ({"task_time_limit": Duration.hours(2), "task_availability_lifetime": Duration.hours(1)},
         "task_availability_lifetime", "task_availability_lifetime is shorter than task_time_limit"),
    ],
)  # fmt: skip
def test_flow_definition_problems(overrides, setting, expected):
    problems = _flow_problems(**overrides)
    assert len(problems) == 1, _messages(problems)
    assert expected in problems[0].message
    assert problems[0].setting == setting


def test_every_flow_definition_problem_at_once():
    problems = _flow_problems(
        task_type=None, task_title="t" * 129, task_count=4, task_time_limit=Duration.seconds(10),
        task_availability_lifetime=Duration.seconds(5),
    )  # fmt: skip
    assert [p.setting for p in problems] == [
        "activation_conditions", "task_title", "task_count", "task_time_limit", "task_availability_lifetime",
    ]  # fmt: skip


# --- Regions ----------------------------------------------------------------------------------------


def test_a2i_regions():
    assert a2i_region_problems(None) == []
    assert a2i_region_problems(Aws.REGION) == []  # agnostic: checked at deploy by a Rules assertion
    assert all(a2i_region_problems(region) == [] for region in A2I_REGIONS)
    for region in ("sa-east-1", "cn-north-1", "us-gov-west-1", "eu-north-1"):
        (problem,) = a2i_region_problems(region, setting="env")
        assert f"Amazon A2I is not offered in {region}" in problem.message
        assert "deploy to one of ap-northeast-1, ap-northeast-2" in problem.message
        assert problem.setting == "env" and problem.value == region


def test_the_readme_lists_the_a2i_regions_the_code_allows():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Human review with Amazon A2I", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"A2I runs in (\d+) regions \(([^)]*)\)", section.replace("\n", " "))
    assert listed, "the README's Regions bullet"
    regions = {r.strip() for r in listed.group(2).split(",")}
    assert regions == A2I_REGIONS and int(listed.group(1)) == len(A2I_REGIONS)


def test_a_flow_definition_pinned_outside_a2i_is_refused():
    app = App()
    stack = Stack(app, "SaoPaulo", env=Environment(account=ACCOUNT, region="sa-east-1"))
    key, bucket = kms.Key(stack, "Key"), s3.Bucket(stack, "Bucket")
    with pytest.raises(FlowDefinitionError, match="Amazon A2I is not offered in sa-east-1"):
        FlowDefinition(stack, "Flow", workteam_arn=WORKTEAM, human_task_ui_arn=UI, output_bucket=bucket,
                       encryption_key=key, task_title="t", task_description="d")  # fmt: skip


# --- Workforce --------------------------------------------------------------------------------------


def test_workforce_cidrs():
    assert workforce_problems() == []
    assert workforce_problems([f"10.{i}.0.0/16" for i in range(10)]) == []
    assert workforce_problems(["2001:db8::/32"]) == []
    (problem,) = workforce_problems([f"10.{i}.0.0/16" for i in range(11)])
    assert "allowed_source_cidrs has 11 blocks; SageMaker takes at most 10." in problem.message
    for bad in ("10.0.0.0/33", "not-a-cidr", "300.1.1.0/24"):
        (problem,) = workforce_problems([bad])
        assert f"allowed_source_cidrs: {bad!r} is not a network" in problem.message
        assert problem.setting == "allowed_source_cidrs" and problem.value == bad


def test_a_bare_address_is_not_a_cidr_sagemaker_takes():
    problems = workforce_problems(["203.0.113.5"])
    assert len(problems) == 1 and "'203.0.113.5'" in problems[0].message


def test_private_workforce_refuses_bad_cidrs():
    stack = Stack(App(), "Workforce")
    with pytest.raises(WorkforceError, match="is not a network"):
        PrivateWorkforce.create(stack, "Workforce", allowed_source_cidrs=["10.0.0.0/33"])


# --- ConfidenceGate ---------------------------------------------------------------------------------


class _Gate:
    def __init__(self) -> None:
        app = App(context=cdk_json_context())
        self.stack = Stack(app, "Gate", env=Environment(account=ACCOUNT, region="us-east-1"))
        self.key = kms.Key(self.stack, "Key", enable_key_rotation=True)
        self.bucket = s3.Bucket(self.stack, "Answers")
        self.flow = FlowDefinition(
            self.stack,
            "Flow",
            workteam_arn=WORKTEAM,
            human_task_ui_arn=UI,
            output_bucket=self.bucket,
            encryption_key=self.key,
            task_title="Check a prediction",
            task_description="Correct the model's answer",
            output_prefix="/answers",
        )
        self.gate = ConfidenceGate(
            self.stack,
            "Gate",
            endpoint_name="My-Endpoint",
            flow_definition=self.flow,
            threshold=0.8,
            encryption_key=self.key,
            confidence_key="predictions.0.score",
            reserved_concurrency=5,
        )
        self.caller = iam.Role(self.stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.gate.grant_invoke(self.caller)
        self.template = Template.from_stack(self.stack)

    def logical_id(self, construct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def statements(self, role) -> list[dict]:
        role_id = self.stack.get_logical_id(role.node.default_child)
        return [
            statement
            for policy in self.template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


@pytest.fixture(scope="module")
def gate() -> _Gate:
    return _Gate()


def _function(gate: _Gate) -> dict:
    return gate.template.to_json()["Resources"][gate.logical_id(gate.gate.function)]["Properties"]


def test_gate_environment_concurrency_and_tracing(gate):
    function = _function(gate)
    flow_arn = {
        "Fn::GetAtt": [gate.stack.get_logical_id(gate.flow.resource.node.default_child), "FlowDefinitionArn"]
    }
    assert function["Environment"]["Variables"] == {
        "ENDPOINT_NAME": "My-Endpoint",
        "FLOW_DEFINITION_ARN": flow_arn,
        "CONFIDENCE_THRESHOLD": "0.8",
        "CONFIDENCE_KEY": "predictions.0.score",
    }
    # The handler reads exactly these variables.
    handler = (Path(TEMPLATES_DIR).parent / "_handlers" / "confidence_gate.py").read_text(encoding="utf-8")
    assert set(re.findall(r"os\.environ(?:\.get\(|\[)\"(\w+)\"", handler)) == set(
        function["Environment"]["Variables"]
    )
    assert function["Handler"] == "confidence_gate.handle"
    assert function["ReservedConcurrentExecutions"] == 5
    assert function["TracingConfig"] == {"Mode": "Active"}
    key_arn = {"Fn::GetAtt": [gate.logical_id(gate.key), "Arn"]}
    assert function["KmsKeyArn"] == key_arn  # the environment is encrypted with the key
    (log_group,) = [
        group["Properties"]
        for logical_id, group in gate.template.find_resources("AWS::Logs::LogGroup").items()
        if {"Ref": logical_id} == function["LoggingConfig"]["LogGroup"]
    ]
    assert log_group["KmsKeyId"] == key_arn and log_group["RetentionInDays"] == 365


def test_gate_may_invoke_its_endpoint_and_start_loops_of_its_flow_definition_only(gate):
    statements = gate.statements(gate.gate.function.role)
    flow_arn = {
        "Fn::GetAtt": [gate.stack.get_logical_id(gate.flow.resource.node.default_child), "FlowDefinitionArn"]
    }
    sagemaker = [s for s in statements if json.dumps(s["Action"]).count("sagemaker:")]
    assert sagemaker == [
        {
            "Action": "sagemaker:InvokeEndpoint",
            "Effect": "Allow",
            # SageMaker's endpoint ARNs are lowercase whatever the name's case.
            "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/my-endpoint",
        },
        {"Action": "sagemaker:StartHumanLoop", "Effect": "Allow", "Resource": flow_arn},
    ]


def test_gate_grant_invoke(gate):
    function_arn = {"Fn::GetAtt": [gate.logical_id(gate.gate.function), "Arn"]}
    (invoke,) = gate.statements(gate.caller)
    assert invoke["Action"] == "lambda:InvokeFunction"
    # The function and its versions (function:*), nothing else.
    assert invoke["Resource"] == [function_arn, {"Fn::Join": ["", [function_arn, ":*"]]}]


def test_a_custom_task_type_flow_definition(gate):
    (properties,) = [
        r["Properties"] for r in gate.template.find_resources("Custom::A2iFlowDefinition").values()
    ]
    assert "HumanLoopRequestSource" not in properties and "HumanLoopActivationConfig" not in properties
    assert properties["HumanLoopConfig"] == {
        "WorkteamArn": WORKTEAM,
        "HumanTaskUiArn": UI,
        "TaskTitle": "Check a prediction",
        "TaskDescription": "Correct the model's answer",
        "TaskCount": 1,
        "TaskAvailabilityLifetimeInSeconds": 86400,
        "TaskTimeLimitInSeconds": 3600,
    }
    # "/answers" is normalised to one prefix, where the role may write and nowhere else.
    assert properties["OutputConfig"]["S3OutputPath"]["Fn::Join"][1][-1] == "/answers/"
    (put,) = [s for s in gate.statements(gate.flow.role) if s["Action"] == "s3:PutObject"]
    assert put["Resource"]["Fn::Join"][1][-1] == "/answers/*"
    # Pinned to an A2I region: checked at synth, no Rules assertion.
    assert not any(name.startswith("A2iRegion") for name in gate.template.to_json().get("Rules", {}))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"threshold": 0}, "threshold=0: no confidence is below it; use a positive number."),
        ({"threshold": -0.5}, "threshold=-0.5: no confidence is below it"),
        ({"threshold": float("nan")}, "threshold=nan"),
        ({"confidence_key": ""}, "confidence_key='': use a dotted path such as 'confidence'."),
        ({"confidence_key": "predictions..score"}, "confidence_key='predictions..score': use a dotted path"),
        ({"confidence_key": "score."}, "confidence_key='score.'"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be 1 or more."),
    ],
)
def test_gate_refusals(gate, overrides, expected):
    stack = Stack(App(), "Refused")
    arguments = {
        "endpoint_name": "e",
        "flow_definition": gate.flow,
        "threshold": 0.5,
        "encryption_key": gate.key,
    }
    with pytest.raises(ConfidenceGateError) as caught:
        ConfidenceGate(stack, "Gate", **(arguments | overrides))
    assert len(caught.value.problems) == 1
    assert expected in str(caught.value)


def test_gate_reports_every_problem_at_once(gate):
    with pytest.raises(ConfidenceGateError) as caught:
        ConfidenceGate(Stack(App(), "Refused"), "Gate", endpoint_name="e", flow_definition=gate.flow,
                       threshold=0, encryption_key=gate.key, confidence_key="", reserved_concurrency=0)  # fmt: skip
    assert [p.setting for p in caught.value.problems] == [
        "threshold",
        "confidence_key",
        "reserved_concurrency",
    ]
