"""Every Step Functions state machine of the catalog, as the contract synthesized it: each AWS SDK integration's
parameters are the API's own member names (botocore's input shape, recursively), each Task state keeps the
execution's input unless it means to replace it, and every Next names a state.

Step Functions names an SDK integration's members as the AWS SDK for Java 2.x does, capitalized: a leading
acronym is lowercased (botocore's ``SNSTopicArn`` is ``SnsTopicArn``, DynamoDB's ``BOOL`` is ``Bool``; the
Java SDK's ``Utils.unCapitalize``). A member it does not know fails every execution at that state
("The field ... is not supported by Step Functions"), long after deploy.
"""

from __future__ import annotations

import json
import re

import pytest

from mlblueprints.constructs._private.service_models import service_model

TOKEN = "<token>"
_SDK = re.compile(r":states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)(?P<pattern>\.\w+)?$")
# Step Functions' SDK service names that are not botocore's.
_BOTOCORE_NAME = {"sfn": "stepfunctions", "sagemakera2iruntime": "sagemaker-a2i-runtime"}


def _definitions(templates: dict) -> list[tuple[str, str, dict]]:
    found = []
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            body = resource["Properties"]["DefinitionString"]
            text = body if isinstance(body, str) else "".join(
                p if isinstance(p, str) else TOKEN for p in body["Fn::Join"][1]
            )  # fmt: skip
            found.append((stack, logical_id, json.loads(text)))
    return found


def _states(definition: dict):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        if "Iterator" in state:
            yield from _states(state["Iterator"])
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


def sfn_member_name(member: str) -> str:
    """``member`` as Step Functions' SDK integrations spell it (Java SDK 2.x's unCapitalize, capitalized)."""
    i, head = 1, [member[0].lower()]
    while i < len(member) and member[i].isupper() and not (i < len(member) - 1 and member[i + 1].islower()):
        head.append(member[i].lower())
        i += 1
    java = "".join(head) + member[i:]
    return java[0].upper() + java[1:]


@pytest.mark.parametrize(
    ("member", "expected"),
    [("SNSTopicArn", "SnsTopicArn"), ("KMSKeyId", "KmsKeyId"), ("BOOL", "Bool"), ("S", "S"), ("S3Object", "S3Object"),
     ("OutputEncryptionKMSKeyId", "OutputEncryptionKMSKeyId"), ("SSESpecification", "SseSpecification"),
     ("MediaFileUri", "MediaFileUri")],
)  # fmt: skip
def test_member_names_follow_the_java_sdk(member, expected):
    assert sfn_member_name(member) == expected


def _unknown_members(model, shape_name: str, value, path: str) -> list[str]:
    shape = model.shape(shape_name)
    if isinstance(value, str) and (value == TOKEN or value.startswith("$") or TOKEN in value):
        return []
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        problems = []
        members = {sfn_member_name(name): name for name in shape["members"]}
        for key, item in value.items():
            name = key[:-2] if key.endswith(".$") else key
            if name not in members:
                problems.append(f"{path}.{name} (Step Functions' names: {', '.join(sorted(members))})")
            elif not key.endswith(".$"):
                problems += _unknown_members(
                    model, shape["members"][members[name]]["shape"], item, f"{path}.{name}"
                )
        return problems
    if kind == "list" and isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in _unknown_members(model, shape["member"]["shape"], item, f"{path}[{i}]")
        ]
    if kind == "map" and isinstance(value, dict):
        return [
            p
            for k, item in value.items()
            for p in _unknown_members(model, shape["value"]["shape"], item, f"{path}.{k}")
        ]
    return []


def _sdk_tasks(contract_templates):
    for stack, machine, definition in _definitions(contract_templates):
        for name, state in _states(definition):
            match = _SDK.search(state.get("Resource", "")) if state.get("Type") == "Task" else None
            if match:
                yield stack, machine, name, state, match


def test_the_catalog_has_sdk_integrations_to_check(contract_templates):
    services = {match["service"] for *_, match in _sdk_tasks(contract_templates)}
    assert {"textract", "transcribe", "s3", "dynamodb"} <= services, services


def test_sdk_integration_parameters_are_the_apis_members(contract_templates):
    problems = []
    for stack, machine, name, state, match in _sdk_tasks(contract_templates):
        model = service_model(_BOTOCORE_NAME.get(match["service"], match["service"]))
        operation = match["action"][0].upper() + match["action"][1:]
        request = model.input_shape(operation)
        if request is None:
            problems.append(f"{stack}/{machine}/{name}: {match['service']} has no operation {operation}")
            continue
        problems += [f"{stack}/{machine}/{name}: unknown member {p}"
                     for p in _unknown_members(model, request, state.get("Parameters", {}), operation)]  # fmt: skip
    assert problems == []


@pytest.mark.parametrize("check", ["next", "result_path"])
def test_states_are_wired(contract_templates, check):
    problems = []
    for stack, machine, definition in _definitions(contract_templates):
        names = set(definition["States"])
        for name, state in definition["States"].items():
            targets = [state.get("Next"), state.get("Default")] + [
                c.get("Next") for c in state.get("Choices", [])
            ]
            targets += [c.get("Next") for c in state.get("Catch", [])]
            if check == "next":
                problems += [f"{stack}/{machine}/{name} -> {t}" for t in targets if t and t not in names]
            elif state.get("Type") == "Task" and not state.get("End") and state.get("ResultPath", "$") == "$":
                # A task in the middle of a flow that replaces the whole input loses what later states read.
                problems.append(f"{stack}/{machine}/{name}: ResultPath replaces the execution's input")
    assert problems == []
