"""Ask people when the model is unsure: a custom A2I task type in front of a SageMaker endpoint.

Invoked with ``{"input": <the endpoint's JSON request>}``: it calls the endpoint, reads the
prediction's confidence at ``CONFIDENCE_KEY`` (a dotted path, e.g. ``confidence`` or
``predictions.0.score``) and, below ``CONFIDENCE_THRESHOLD``, starts a human loop of the flow
definition with the input, the prediction and the confidence (the task UI reads them as
``task.input.input``, ``task.input.prediction``, ``task.input.confidence``). It returns the
prediction either way, and the human loop's name when it started one.
"""

from __future__ import annotations

import json
import os
import uuid

import boto3

# StartHumanLoop's HumanLoopInput.InputContent limit (sagemaker-a2i-runtime API model).
MAX_INPUT_CONTENT = 3_145_728


class ConfidenceError(ValueError):
    """The prediction has no usable confidence at the configured path."""


def confidence_at(prediction, path: str) -> float:
    value = prediction
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise ConfidenceError(
                f"the prediction has no {path!r} (stopped at {part!r}): set CONFIDENCE_KEY to its path"
            )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfidenceError(f"the prediction's {path!r} is {value!r}, not a number")
    return float(value)


def handle(event: dict, context, runtime=None, a2i=None, new_name=None) -> dict:
    runtime = runtime or boto3.client("sagemaker-runtime")
    a2i = a2i or boto3.client("sagemaker-a2i-runtime")
    response = runtime.invoke_endpoint(
        EndpointName=os.environ["ENDPOINT_NAME"],
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps(event["input"]),
    )
    prediction = json.loads(response["Body"].read())
    confidence = confidence_at(prediction, os.environ.get("CONFIDENCE_KEY", "confidence"))
    result = {"prediction": prediction, "confidence": confidence, "humanReview": False}
    if confidence >= float(os.environ["CONFIDENCE_THRESHOLD"]):
        return result
    content = json.dumps({"input": event["input"], "prediction": prediction, "confidence": confidence})
    if len(content) > MAX_INPUT_CONTENT:
        raise ValueError(
            f"the review's input is {len(content):,} characters; A2I takes at most {MAX_INPUT_CONTENT:,}: send a "
            "reference (an S3 URI) in the request instead of the content"
        )
    name = (new_name or _new_name)()
    a2i.start_human_loop(
        HumanLoopName=name,
        FlowDefinitionArn=os.environ["FLOW_DEFINITION_ARN"],
        HumanLoopInput={"InputContent": content},
    )
    return result | {"humanReview": True, "humanLoopName": name}


def _new_name() -> str:
    """A human loop name: unique, lowercase letters, digits and hyphens (at most 63)."""
    return f"review-{uuid.uuid4()}"
