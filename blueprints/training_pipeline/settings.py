"""Settings of the ``training-pipeline`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

from aws_cdk import Aws, Duration
from pydantic import BaseModel, ConfigDict, Field

from mlblueprints.blueprints.model_settings import image_of, image_source_problems, typed
from mlblueprints.blueprints.settings_base import BlueprintSettings, construct_default
from mlblueprints.constructs._private.service_models import member_rule, number_rule
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage, image_problems
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.security.private_network import PrivateNetwork, network_problems
from mlblueprints.constructs.training.training_job import InputChannel, MetricDefinition, TrainingJob

__all__ = ["ChannelSettings", "TrainingPipelineSettings"]

_KEEP_ALIVE = number_rule("ResourceConfig", "KeepAlivePeriodInSeconds")
Hours = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 28 * 24})]


class ChannelSettings(BaseModel):
    """An input channel given as an object (a plain string is its S3 URI, read in File mode)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    s3_uri: str = Field(description="s3://<bucket>/<prefix>/ of the channel's data.")
    input_mode: str = Field("File", description="File (copied first), FastFile (streamed on read) or Pipe.")
    sharded: bool = Field(False, description="Give each instance its own share of the objects.")
    content_type: str | None = Field(None, description="The data's MIME type, passed to the container.")


class TrainingPipelineSettings(BlueprintSettings):
    """SageMaker training on GPU or Trainium, run on demand or on a schedule by Step Functions."""

    blueprint_name: ClassVar[str] = "training-pipeline"

    instance_type: str = Field(
        description="A SageMaker TrainingInstanceType, e.g. ml.g5.12xlarge, ml.p5.48xlarge, ml.trn1.32xlarge.",
        min_length=1,
    )
    dlc_repository: str | None = Field(
        None,
        description="A training Deep Learning Containers repository, e.g. pytorch-training or pytorch-training-neuronx.",
    )
    dlc_tag: str | None = Field(None, description="Its tag, e.g. 2.9.0-gpu-py312.")
    image_uri: str | None = Field(
        None,
        description="Your own training image in ECR (built on the SageMaker Training Toolkit), instead of a DLC.",
    )
    image_repository: str | None = Field(
        None,
        description="Your own training image by ECR repository name, in the stack's account and region (the "
        "RepositoryName output of a container-image stack), with image_tag.",
    )
    image_tag: str | None = Field(
        None,
        description="The tag of the image in image_repository (the container-image stack's ImageTag output).",
    )
    allow_unlisted_image_tags: bool = Field(
        False, description="Accept a DLC tag newer than the catalog's tables."
    )
    source_dir: str | None = Field(
        None,
        description="A local directory with the training code, packed at synth and handed to the job as its "
        "code channel; entry_point names the script in it. Default with a DLC and no entry_point: the "
        "bundled smoke-test script.",
    )
    entry_point: str | None = Field(
        None,
        description="The script to run: in source_dir, or baked into your image (SAGEMAKER_PROGRAM), e.g. train.py.",
    )
    instance_count: int | None = Field(
        None,
        description="Instances per job; more than one trains distributed, with encrypted traffic between them.",
        json_schema_extra=construct_default(TrainingJob, "instance_count"),
    )
    volume_size_gb: int | None = Field(
        None,
        description="The ML storage volume per instance, in GB.",
        json_schema_extra=construct_default(TrainingJob, "volume_size_gb"),
    )
    hyperparameters: dict[str, str] | None = Field(
        None, description="Passed to the training script; runs may override them."
    )
    environment: dict[str, str] | None = Field(None, description="The container's environment variables.")
    channels: dict[str, str | ChannelSettings] | None = Field(
        None,
        description="Input channels by name: an S3 URI, or an object with s3_uri, input_mode, sharded and "
        "content_type. Runs may override the URIs.",
    )
    metric_definitions: dict[str, str] | None = Field(
        None, description="Metric name to the regex whose first group is its value in the training log."
    )
    max_runtime_hours: Hours | None = Field(
        None, description="At most 28 days.", json_schema_extra={"x-default": "24"}
    )
    max_retries: int | None = Field(None, description="Retries on an internal SageMaker error (1-30).")
    spot: bool = Field(
        False, description="Managed spot training (cheaper, interruptible; checkpoints to S3)."
    )
    max_wait_hours: Hours | None = Field(
        None,
        description="How long a spot job may wait and run; at least max_runtime_hours.",
        json_schema_extra={"x-default": "twice max_runtime_hours"},
    )
    keep_alive_minutes: int | None = Field(
        None,
        description="Keep the instances warm this long after a job so the next starts at once (not with spot).",
        json_schema_extra={"minimum": 0, "maximum": (_KEEP_ALIVE.maximum or 0) // 60},
    )
    network_isolation: bool | None = Field(
        None,
        description="No outbound network from the training container.",
        json_schema_extra=construct_default(TrainingJob, "network_isolation"),
    )
    inter_container_encryption: bool | None = Field(
        None,
        description="Encrypt traffic between the instances (slower).",
        json_schema_extra={"x-default": "true (a single instance has no traffic to encrypt)"},
    )
    distribution: str | None = Field(
        None,
        description="torch_distributed runs torchrun on every instance.",
        json_schema_extra={"x-default": "torch_distributed on Trainium"},
    )
    create_vpc: bool = Field(
        True, description="Run the jobs in a new private VPC; false runs them without one."
    )
    vpc_cidr: str | None = Field(
        None,
        description="The new VPC's private IPv4 block, /16 to /19.",
        json_schema_extra=construct_default(PrivateNetwork, "cidr"),
    )
    inference_dlc_repository: str | None = Field(
        None, description="The DLC the trained model is registered to serve with (with inference_dlc_tag)."
    )
    inference_dlc_tag: str | None = Field(None, description="Its tag.")
    model_package_group_name: str | None = Field(
        None,
        description="Register trained models in this model package group. Default: a name from the stack.",
    )
    schedule: str | None = Field(
        None, description="Start a run on this EventBridge schedule: rate(7 days) or cron(...)."
    )
    notification_email: str | None = Field(
        None, description="Subscribe this address to failed and stopped jobs."
    )
    retain_data: bool = Field(
        True,
        description="Keep the key, bucket and logs when the stack is deleted (the bucket only once empty otherwise).",
    )
    allow_unlisted_instance_types: bool = Field(
        False, description="Accept an ml.* type newer than the installed botocore."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def training_job(self) -> TrainingJob:
        return training_job_from(self.model_dump(), image_of(self.model_dump()))

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """The training constructs' checks on the raw config: one run names every problem."""
        problems: list[Problem] = [
            Problem(
                p.message.replace("pytorch-inference", "pytorch-training").replace(
                    "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker", "2.9.0-gpu-py312"
                ),
                setting=p.setting,
            )
            for p in image_source_problems(config)
        ]
        image = image_of(config)
        if isinstance(image, list):
            problems += image
        elif isinstance(image, ContainerImage) and isinstance(config.get("instance_type"), str):
            job = training_job_from(config, image)
            if job is not None:
                problems += job.problems(region or Aws.REGION)
        if isinstance(config.get("vpc_cidr"), str):
            problems += network_problems(config["vpc_cidr"], max_azs=2)
        problems += _source_problems(config)
        schedule = config.get("schedule")
        if isinstance(schedule, str) and not _valid_schedule(schedule):
            problems.append(
                Problem(
                    f"schedule={schedule!r}: use an EventBridge schedule expression: 'rate(7 days)' (1 takes the "
                    "singular: 'rate(1 day)') or a six-field 'cron(0 3 ? * SUN *)'.",
                    setting="schedule",
                    value=schedule,
                )
            )
        group = config.get("model_package_group_name")
        if isinstance(group, str):
            violation = member_rule("CreateModelPackageGroupInput", "ModelPackageGroupName").violation(group)
            if violation:
                problems.append(
                    Problem(
                        f"model_package_group_name={group!r}: it {violation}; use letters, digits and hyphens.",
                        setting="model_package_group_name",
                        value=group,
                    )
                )
            if not config.get("inference_dlc_repository"):
                problems.append(
                    Problem(
                        "model_package_group_name without inference_dlc_repository and inference_dlc_tag: models are "
                        "registered with the image that serves them; name it, or drop the group name.",
                        setting="model_package_group_name",
                    )
                )
        serving = config.get("inference_dlc_repository"), config.get("inference_dlc_tag")
        if all(isinstance(v, str) and v for v in serving):
            problems += [
                Problem(f"inference image: {p.message}", setting="inference_dlc_repository", value=p.value)
                for error in image_problems(ContainerImage.from_dlc(*serving), None, region or Aws.REGION)
                for p in error.problems
            ]
        if isinstance(config.get("notification_email"), str):
            problems += [
                Problem(p.message.replace("alarm_email", "notification_email"), setting="notification_email")
                for p in alarm_email_problems(config["notification_email"])
            ]
        if bool(config.get("inference_dlc_repository")) != bool(config.get("inference_dlc_tag")):
            problems.append(
                Problem(
                    "set inference_dlc_repository and inference_dlc_tag together.",
                    setting="inference_dlc_repository",
                )
            )
        return problems


SMOKE_TEST_TRAINING = Path(__file__).parent / "smoke_test_training"


def source_of(config: dict[str, Any]) -> tuple[Path | None, str | None]:
    """The code directory and entry point a config runs: its own, or the bundled smoke test for a DLC."""
    source_dir, entry_point = config.get("source_dir"), config.get("entry_point")
    if (
        source_dir is None
        and entry_point is None
        and config.get("dlc_repository")
        and not config.get("image_uri")
    ):
        return SMOKE_TEST_TRAINING, "train.py"
    return (Path(source_dir) if isinstance(source_dir, str) else None), entry_point


def _source_problems(config: dict[str, Any]) -> list[Problem]:
    source_dir, entry_point = source_of(config)
    if source_dir is None:
        return []
    if not source_dir.is_dir():
        return [
            Problem(
                f"source_dir={str(source_dir)!r} is not a directory (paths are relative to where cdk runs).",
                setting="source_dir",
                value=str(source_dir),
            )
        ]
    if not isinstance(entry_point, str):
        return [
            Problem(
                "source_dir needs entry_point: the script in it to run, e.g. 'train.py'.",
                setting="entry_point",
            )
        ]
    if not (source_dir / entry_point).is_file():
        return [
            Problem(
                f"entry_point={entry_point!r} is not a file in source_dir {str(source_dir)!r}.",
                setting="entry_point",
                value=entry_point,
            )
        ]
    return []


_RATE = re.compile(r"^rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9]\d+) (?:minutes|hours|days))\)$")
_CRON = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")


def _valid_schedule(expression: str) -> bool:
    """EventBridge's forms: rate(value unit), singular for 1, and cron with six fields."""
    return bool(_RATE.fullmatch(expression) or _CRON.fullmatch(expression))


def training_job_from(config: dict[str, Any], image: Any) -> TrainingJob | None:
    """The :class:`TrainingJob` a (raw or validated) config describes; ``None`` if a value is mistyped."""
    if not isinstance(image, ContainerImage):
        return None
    channels = []
    for name, value in (config.get("channels") or {}).items():
        if isinstance(value, str):
            channels.append(InputChannel(name, value))
        elif isinstance(value, dict) and isinstance(value.get("s3_uri"), str):
            channels.append(
                InputChannel(
                    name,
                    value["s3_uri"],
                    input_mode=value.get("input_mode", "File"),
                    sharded=value.get("sharded") is True,
                    content_type=value.get("content_type"),
                )
            )
        elif isinstance(value, BaseModel):
            channels.append(
                InputChannel(
                    name,
                    value.s3_uri,
                    input_mode=value.input_mode,
                    sharded=value.sharded,
                    content_type=value.content_type,
                )
            )
        else:
            return None
    values: dict[str, Any] = {}
    for key, kind in (("instance_count", int), ("volume_size_gb", int), ("max_retries", int)):
        if config.get(key) is not None:
            values[key] = typed(config, key, kind)
            if values[key] is None:
                return None
    for key, hours in (("max_runtime", "max_runtime_hours"), ("max_wait", "max_wait_hours")):
        if config.get(hours) is not None:
            number = typed(config, hours, float)
            if number is None:
                return None
            values[key] = Duration.seconds(round(number * 3600))
    if config.get("keep_alive_minutes") is not None:
        minutes = typed(config, "keep_alive_minutes", int)
        if minutes is None:
            return None
        values["keep_alive"] = Duration.minutes(minutes)
    for key in ("network_isolation", "inter_container_encryption", "spot", "allow_unlisted_instance_types"):
        if isinstance(config.get(key), bool):
            values[key] = config[key]
    for key in ("distribution", "entry_point"):
        if isinstance(config.get(key), str):
            values[key] = config[key]
    for key in ("hyperparameters", "environment"):
        if isinstance(config.get(key), dict):
            values[key] = dict(config[key])
    metrics = config.get("metric_definitions") or {}
    if not isinstance(metrics, dict):
        return None
    return TrainingJob(
        image=image,
        instance_type=config["instance_type"],
        channels=tuple(channels),
        metric_definitions=tuple(
            MetricDefinition(name, regex) for name, regex in metrics.items() if isinstance(regex, str)
        ),
        **values,
    )
