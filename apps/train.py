"""Start a run of a deployed ``training-pipeline`` stack, with overrides, and follow it to the end.

    python -m mlblueprints.apps.train FineTuneOnGpu \\
        --hyperparameter epochs=5 --instance-count 4 --channel train=s3://my-data/train-v2/

Reads the stack's outputs (``StateMachineArn``, ``Channels``) with CloudFormation, checks the
overrides against the configured channels, starts a Step Functions execution whose input holds the
overrides, then follows the execution and its SageMaker training job (named in the execution's
history), printing each status change, until it ends. Exits 0 when the run
succeeded, 1 when it failed (with SageMaker's failure reason), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Overrides",
    "RunError",
    "check_channels",
    "check_run_name",
    "follow_run",
    "main",
    "parse_overrides",
    "stack_outputs",
    "start_run",
]

_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S*$")
_ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class RunError(Exception):
    """A problem the command reports in one line, without a traceback."""


@dataclass(frozen=True)
class Overrides:
    """What an execution's input may override of the configured job."""

    hyperparameters: dict[str, str]
    instance_count: int | None
    channels: dict[str, str]

    def to_input(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.hyperparameters:
            document["hyperparameters"] = self.hyperparameters
        if self.instance_count is not None:
            document["instance_count"] = self.instance_count
        if self.channels:
            document["channels"] = self.channels
        return document


def parse_overrides(
    hyperparameters: Sequence[str], instance_count: int | None, channels: Sequence[str]
) -> Overrides:
    """Overrides from ``key=value`` arguments; every mistake in one :class:`RunError`."""
    problems = []
    parsed_hp: dict[str, str] = {}
    for item in hyperparameters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            problems.append(f"--hyperparameter {item!r}: write name=value, e.g. epochs=5")
        else:
            parsed_hp[key] = value
    parsed_channels: dict[str, str] = {}
    for item in channels:
        name, sep, uri = item.partition("=")
        if not sep or not name or not _S3.fullmatch(uri):
            problems.append(
                f"--channel {item!r}: write name=s3://bucket/prefix/, e.g. train=s3://my-data/train/"
            )
        else:
            parsed_channels[name] = uri
    if instance_count is not None and instance_count < 1:
        problems.append(f"--instance-count {instance_count}: use 1 or more")
    if problems:
        raise RunError("; ".join(problems))
    return Overrides(parsed_hp, instance_count, parsed_channels)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of a deployed training-pipeline stack."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise RunError(f"stack {stack_name!r}: {error.response['Error']['Message']}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = {"StateMachineArn", "Channels"} - set(outputs)
    if missing:
        raise RunError(
            f"stack {stack_name!r} has no {', '.join(sorted(missing))} output: is it a training-pipeline stack?"
        )
    return outputs


# Step Functions execution names: 1 to 80 characters, no whitespace, wildcards or control characters;
# this command keeps to letters, digits, '-' and '_', which every console and log shows as typed.
_RUN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_run_name(name: str | None) -> None:
    if name is not None and not _RUN_NAME.fullmatch(name):
        raise RunError(f"--name {name!r}: use 1 to 80 letters, digits, '-' and '_'.")


def check_channels(overrides: Overrides, configured: dict[str, str]) -> None:
    """Overridden channels must be configured ones, in a configured channel's bucket (the role reads those)."""
    problems = []
    buckets = {uri.removeprefix("s3://").partition("/")[0] for uri in configured.values()}
    for name, uri in overrides.channels.items():
        if name not in configured:
            problems.append(
                f"--channel {name}=...: the stack has no channel {name!r} (it has {', '.join(sorted(configured)) or 'none'})"
            )
        elif uri.removeprefix("s3://").partition("/")[0] not in buckets:
            problems.append(
                f"--channel {name}={uri}: the training role reads only the configured channels' buckets "
                f"({', '.join(sorted(buckets))}); copy the data there, or add a channel in that bucket to the config"
            )
    if problems:
        raise RunError("; ".join(problems))


def start_run(
    stepfunctions: Any, state_machine_arn: str, overrides: Overrides, *, name: str | None = None
) -> str:
    """Start an execution with ``overrides`` as its input; returns the execution ARN.

    The name becomes the training job's suffix: a UUID (36 characters) fits the job name's limit.
    """
    response = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or str(uuid.uuid4()),
        input=json.dumps(overrides.to_input()),
    )
    return response["executionArn"]


def follow_run(
    stepfunctions: Any,
    sagemaker: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    out: Callable[[str], None] = print,
) -> int:
    """Print the execution's and its training job's status changes until the run ends; 0 on success."""
    job_name = None
    seen: tuple[str, ...] = ()
    while True:
        execution = stepfunctions.describe_execution(executionArn=execution_arn)
        status = execution["status"]
        job_name = job_name or _scheduled_job_name(stepfunctions, execution_arn)
        job = _training_job(sagemaker, job_name) if job_name else {}
        state = (status, job.get("TrainingJobStatus", ""), job.get("SecondaryStatus", ""))
        if state != seen:
            line = f"execution {status}"
            if job:
                line += f"; training job {job_name}: {job['TrainingJobStatus']} ({job.get('SecondaryStatus', '-')})"
            out(line)
            seen = state
        if status in _ENDED:
            break
        sleep(poll_seconds)
    if status == "SUCCEEDED":
        output = json.loads(execution.get("output") or "{}")
        artifacts = output.get("training", {}).get("ModelArtifacts", {}).get("S3ModelArtifacts")
        package = output.get("model_package", {}).get("ModelPackageArn")
        out(f"model artifacts: {artifacts}" if artifacts else "run succeeded")
        if package:
            out(f"registered model package: {package}")
        return 0
    reason = job.get("FailureReason") or execution.get("cause") or execution.get("error") or status
    out(f"run {status.lower()}: {reason}")
    return 1


def _scheduled_job_name(stepfunctions: Any, execution_arn: str) -> str | None:
    """The training job's name, from the execution's history once the Train task is scheduled."""
    history = stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=100)
    for event in history["events"]:
        details = event.get("taskScheduledEventDetails")
        if details and details.get("resourceType") == "sagemaker":
            return json.loads(details["parameters"]).get("TrainingJobName")
    return None


def _training_job(sagemaker: Any, name: str) -> dict[str, Any]:
    try:
        return sagemaker.describe_training_job(TrainingJobName=name)
    except sagemaker.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return {}  # not created yet
        raise


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlblueprints.apps.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("stack", help="the deployed training-pipeline stack's name")
    parser.add_argument("--hyperparameter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--instance-count", type=int)
    parser.add_argument("--channel", action="append", default=[], metavar="NAME=S3_URI")
    parser.add_argument("--name", help="the execution's name (default: a UUID); the job gets its own ID")
    parser.add_argument("--no-follow", action="store_true", help="start the run and return")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's, e.g. AWS_REGION)")
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.hyperparameter, args.instance_count, args.channel)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=args.region)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        outputs = stack_outputs(session.client("cloudformation"), args.stack)
        check_run_name(args.name)
        check_channels(overrides, json.loads(outputs.get("Channels", "{}")))
        stepfunctions = session.client("stepfunctions")
        execution_arn = start_run(stepfunctions, outputs["StateMachineArn"], overrides, name=args.name)
        print(f"started {execution_arn}")
        if args.no_follow:
            return 0
        return follow_run(
            stepfunctions, session.client("sagemaker"), execution_arn, outputs["TrainingJobNamePrefix"]
        )
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:  # no credentials or region, no network, access denied
        hint = " Pass --region, or set AWS_REGION." if "region" in str(error).lower() else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
