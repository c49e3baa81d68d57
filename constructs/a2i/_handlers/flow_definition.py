"""CloudFormation custom resource for an Amazon A2I flow definition (CloudFormation has no resource type).

Runs as the ``onEvent`` handler of CDK's custom-resource Provider framework, which reports to
CloudFormation: a return value is SUCCESS, an exception is FAILED with its message as the reason.

- The flow definition's name is derived from its resolved properties, so any change (a new workteam
  ARN, new activation conditions) is a new name: an update creates the new definition, and
  CloudFormation deletes the old one once the stack update succeeds (update by replacement).
- Create is idempotent: a definition of the same name (the same properties) is adopted; one left
  ``Failed`` by an earlier attempt is deleted and created again.
- The physical ID is the flow definition ARN. Delete succeeds when the definition is already gone,
  and when the physical ID is not an ARN (a create that failed before anything existed).
- It waits until the definition is ``Active`` (or gone, on delete), well within the Lambda timeout,
  and fails with SageMaker's ``FailureReason`` rather than leave the stack waiting.
"""

from __future__ import annotations

import hashlib
import json
import re
import time

import boto3
from botocore.exceptions import ClientError

POLL_SECONDS = 5
# Stop waiting this long before the Lambda timeout, to report instead of being cut off.
MARGIN_MILLIS = 60_000
_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:flow-definition/(?P<name>[a-z0-9-]+)$")
# The properties that are the flow definition's request (the rest is CloudFormation's or ours).
_REQUEST_KEYS = (
    "HumanLoopRequestSource",
    "HumanLoopActivationConfig",
    "HumanLoopConfig",
    "OutputConfig",
    "RoleArn",
)


class FlowDefinitionError(Exception):
    """A reason CloudFormation shows for a failed create or update."""


def flow_definition_name(prefix: str, request: dict) -> str:
    """``prefix``-<8 hex of the request>: SageMaker's name rule (lowercase, digits, hyphens, 63 at most)."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:8]
    return f"{prefix[:54].rstrip('-')}-{digest}"


def _request(properties: dict) -> dict:
    request = {key: properties[key] for key in _REQUEST_KEYS if key in properties}
    config = request.get("HumanLoopConfig")
    if config:
        # CloudFormation passes every property as a string.
        request["HumanLoopConfig"] = {
            key: int(value) if key.endswith(("Count", "Seconds")) else value for key, value in config.items()
        }
    return request


class Deadline:
    def __init__(self, context) -> None:
        self.context = context

    def left(self) -> bool:
        return self.context.get_remaining_time_in_millis() > MARGIN_MILLIS


def _describe(client, name: str) -> dict | None:
    try:
        return client.describe_flow_definition(FlowDefinitionName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ResourceNotFound", "ValidationException"):
            return None
        raise


def _wait_until_gone(client, name: str, deadline: Deadline, sleep) -> bool:
    while deadline.left():
        if _describe(client, name) is None:
            return True
        sleep(POLL_SECONDS)
    return False


def _delete(client, name: str) -> None:
    try:
        client.delete_flow_definition(FlowDefinitionName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":
            raise


def _create(client, name: str, request: dict, deadline: Deadline, sleep) -> str:
    existing = _describe(client, name)
    if existing is not None and existing["FlowDefinitionStatus"] in ("Failed", "Deleting"):
        # Left by an earlier attempt: start over under the same name.
        _delete(client, name)
        if not _wait_until_gone(client, name, deadline, sleep):
            raise FlowDefinitionError(
                f"flow definition {name} from an earlier attempt is still being deleted"
            )
        existing = None
    if existing is None:
        client.create_flow_definition(FlowDefinitionName=name, **request)
    while deadline.left():
        described = _describe(client, name)
        status = described["FlowDefinitionStatus"] if described else "Initializing"
        if status == "Active":
            return described["FlowDefinitionArn"]
        if status == "Failed":
            reason = described.get("FailureReason", "no reason given")
            # Leave nothing behind: the rollback's delete will not know this definition.
            _delete(client, name)
            raise FlowDefinitionError(f"flow definition {name} failed: {reason}")
        sleep(POLL_SECONDS)
    raise FlowDefinitionError(f"flow definition {name} was not Active before the handler's time ran out")


def on_event(event: dict, context, client=None, sleep=time.sleep) -> dict:
    client = client or boto3.client("sagemaker")
    deadline = Deadline(context)
    request_type = event["RequestType"]
    if request_type == "Delete":
        match = _ARN.match(event.get("PhysicalResourceId", ""))
        if match is None:
            return {"PhysicalResourceId": event.get("PhysicalResourceId", "none")}
        _delete(client, match["name"])
        _wait_until_gone(client, match["name"], deadline, sleep)
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    properties = event["ResourceProperties"]
    request = _request(properties)
    name = flow_definition_name(properties["NamePrefix"], request)
    try:
        arn = _create(client, name, request, deadline, sleep)
    except ClientError as error:
        details = error.response["Error"]
        raise FlowDefinitionError(f"{details['Code']}: {details.get('Message', '')}") from error
    return {"PhysicalResourceId": arn, "Data": {"FlowDefinitionArn": arn, "FlowDefinitionName": name}}
