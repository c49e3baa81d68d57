"""A SageMaker training job, written as the ``CreateTrainingJob`` request itself and checked at synth.

CloudFormation has no training-job resource: a job is started by a caller (here, a Step Functions
task). CDK's ``SageMakerCreateTrainingJob`` task has no fields for managed spot training, checkpoints
or inter-container traffic encryption, so :class:`TrainingJob` emits the request with the API's own
member names (``ResourceConfig``, ``StoppingCondition``, ...) and :meth:`TrainingJob.request`
validates it against botocore's ``CreateTrainingJobRequest`` shape, so a misspelt member or an
out-of-range value fails synth instead of the first run.

What SageMaker refuses at run time and botocore cannot say, and the catalog's defaults:

- the instance type is checked for training (Inferentia is refused), the image against it (CUDA on
  Trainium, Neuron on GPU, inference images, ``-ec2`` tags) and against the region's image tables;
- a run lasts at most 28 days (``MaxRuntimeInSeconds``: "The maximum value is 28 days", API
  reference, StoppingCondition); managed spot training waits at least as long as it runs
  (``MaxWaitTimeInSeconds`` "must be equal to or greater than MaxRuntimeInSeconds") and always
  checkpoints to S3, so an interrupted job resumes;
- several instances encrypt the traffic between them by default (slower: "can increase training
  time"), and network isolation is on;
- ``VolumeKmsKeyId`` is set only for instance types with an EBS volume: types with local NVMe storage
  reject it, as endpoints do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, Token

from mlblueprints.constructs._private.request_validation import request_problems
from mlblueprints.constructs._private.service_models import map_member_rule, number_rule
from mlblueprints.constructs.compute.instance_types import (
    AcceleratorKind,
    InstanceType,
    SageMakerUse,
    check_instance_type,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem, TrainingJobError
from mlblueprints.constructs.sagemaker.container_image import TRAINING_SERVICE, ContainerImage, image_problems
from mlblueprints.constructs.sagemaker.model_data import ModelData

__all__ = [
    "CODE_CHANNEL",
    "InputChannel",
    "MetricDefinition",
    "SourceCode",
    "TrainingJob",
    "TrainingJobError",
]

# With network isolation the container cannot fetch its code, so the SageMaker Python SDK hands it
# over as an input channel named "code" and points the toolkit at the archive's path in it
# (sagemaker.estimator.Framework.CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH,
# "/opt/ml/input/data/code/sourcedir.tar.gz"): this job does the same.
CODE_CHANNEL = "code"


class SourceCode(ModelData):
    """The training script and its modules as a ``.tar.gz`` in S3: :meth:`from_directory` packs a
    local directory at synth and stages it as an asset; :meth:`from_s3_url` names an uploaded one."""


# "The maximum value is 28 days" (API reference, StoppingCondition.MaxRuntimeInSeconds).
MAX_RUNTIME = Duration.days(28)
INPUT_MODES = ("File", "FastFile", "Pipe")
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?$")


# Neuron 2.33.0 release notes: "PyTorch/XLA-based torch-neuronx for PyTorch 2.9, which last shipped in
# Neuron 2.31 ... Starting with Neuron 2.33.0, torch-neuronx for PyTorch 2.13 and 2.14 is TorchNeuron,
# the native PyTorch backend for Trainium", released for Trn2 and Trn3 only.
TORCH_NEURON_FROM = (2, 13)
_TORCH_VERSION = re.compile(r"^(\d+)\.(\d+)")


def torch_neuron_problems(image: ContainerImage, instance: InstanceType | None) -> list[Problem]:
    """A TorchNeuron image (torch-neuronx for PyTorch 2.13 and later) on first-generation Trainium."""
    if instance is None or instance.family not in ("trn1", "trn1n") or not image.is_dlc:
        return []
    if "neuronx" not in image.repository_name:
        return []
    match = _TORCH_VERSION.match(image.tag)
    if match is None or (int(match[1]), int(match[2])) < TORCH_NEURON_FROM:
        return []
    return [
        Problem(
            f"Container image {image.repository_name}:{image.tag} is TorchNeuron (torch-neuronx for PyTorch "
            f"{match[1]}.{match[2]}, Neuron 2.33 and later), which runs on Trn2 and Trn3 only, not on "
            f"{instance.name}. Use the PyTorch/XLA line on trn1 (PyTorch 2.9, last shipped in Neuron 2.31), e.g. "
            "pytorch-training-neuronx:2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04, or ml.trn2.48xlarge.",
            setting="dlc_tag",
            value=image.tag,
        )
    ]


@dataclass(frozen=True)
class InputChannel:
    """An S3 input channel: its files appear under ``/opt/ml/input/data/<name>``.

    :param input_mode: ``File`` (copied before training), ``FastFile`` (streamed on read) or ``Pipe``.
    :param sharded: give each instance its own share of the objects (``ShardedByS3Key``).
    """

    name: str
    s3_uri: str
    input_mode: str = "File"
    content_type: str | None = None
    sharded: bool = False

    def to_request(self) -> dict[str, Any]:
        channel: dict[str, Any] = {
            "ChannelName": self.name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": self.s3_uri,
                    "S3DataDistributionType": "ShardedByS3Key" if self.sharded else "FullyReplicated",
                }
            },
            "InputMode": self.input_mode,
        }
        if self.content_type:
            channel["ContentType"] = self.content_type
        return channel


@dataclass(frozen=True)
class MetricDefinition:
    """A metric SageMaker reads from the training log with ``regex`` (its first group is the value)."""

    name: str
    regex: str


@dataclass(frozen=True)
class TrainingJob:
    """What a training run is: image, instances, data, limits and cost options.

    :param instance_type: a ``TrainingInstanceType`` such as ``ml.g5.12xlarge``, ``ml.p5.48xlarge``
        or ``ml.trn1.32xlarge``.
    :param instance_count: more than one trains distributed; the traffic between the instances is
        encrypted by default (``inter_container_encryption``), which slows communication-heavy training.
    :param volume_size_gb: the ML storage volume (EBS types) in GB.
    :param max_runtime: at most 28 days.
    :param max_retries: retry the job this many times on an internal SageMaker error (1-30).
    :param spot: managed spot training, up to 90% cheaper, interrupted when capacity is reclaimed;
        checkpoints go to S3 so the job resumes.
    :param max_wait: how long a spot job may wait for capacity plus run; at least ``max_runtime``.
        Default: twice ``max_runtime``, within 28 days.
    :param keep_alive: keep the instances warm this long after the job (a warm pool) so the next
        job with the same configuration starts at once.
    :param entry_point: the script a SageMaker Training Toolkit image runs, e.g. ``train.py``: in
        ``source`` when given, else baked into the image (``SAGEMAKER_PROGRAM``).
    :param source: the code to run, handed to the container as the ``code`` channel (network
        isolation stays on): what a Deep Learning Container needs.
    :param distribution: ``"torch_distributed"`` launches the script with torchrun on every instance
        (the Neuron distributed launcher on Trainium). Default: on Trainium.
    """

    image: ContainerImage
    instance_type: str
    instance_count: int = 1
    volume_size_gb: int = 100
    hyperparameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    channels: Sequence[InputChannel] = ()
    metric_definitions: Sequence[MetricDefinition] = ()
    max_runtime: Duration = Duration.days(1)
    max_retries: int | None = None
    spot: bool = False
    max_wait: Duration | None = None
    keep_alive: Duration | None = None
    network_isolation: bool = True
    inter_container_encryption: bool | None = None
    distribution: str | None = None
    entry_point: str | None = None
    source: SourceCode | None = None
    allow_unlisted_instance_types: bool = False

    # --- checks -------------------------------------------------------------------------------

    def instance(self) -> InstanceType | None:
        return check_instance_type(
            self.instance_type, use=SageMakerUse.TRAINING, allow_unlisted=self.allow_unlisted_instance_types
        )

    def problems(self, region: str) -> list[Problem]:
        """Everything SageMaker would refuse in this job, with what to use instead."""
        problems: list[Problem] = []
        instance = None
        try:
            instance = self.instance()
        except MlBlueprintsError as error:
            problems += error.problems
        for error in image_problems(self.image, instance, region, service=TRAINING_SERVICE):
            problems += error.problems
        problems += torch_neuron_problems(self.image, instance)
        problems += self._limit_problems()
        problems += self._channel_problems()
        problems += self._map_problems()
        problems += self._cost_problems()
        if self.entry_point is not None and not re.fullmatch(r"[\w./-]+\.(py|sh)", self.entry_point):
            problems.append(
                Problem(
                    f"entry_point={self.entry_point!r}: name the script in the image, e.g. 'train.py' or "
                    "'scripts/train.sh'.",
                    setting="entry_point",
                    value=self.entry_point,
                )
            )
        if self.source is not None and not self.entry_point:
            problems.append(
                Problem(
                    "source code without entry_point: name the script to run in it, e.g. 'train.py'.",
                    setting="entry_point",
                )
            )
        if any(channel.name == CODE_CHANNEL for channel in self.channels) and self.source is not None:
            problems.append(
                Problem(
                    f"a channel named {CODE_CHANNEL!r} with source code: that channel carries the code; name the "
                    "data channel otherwise.",
                    setting="channels",
                )
            )
        if self.distribution not in (None, "torch_distributed"):
            problems.append(
                Problem(
                    f"distribution={self.distribution!r}: use 'torch_distributed' (torchrun on every instance), or "
                    "leave it unset.",
                    setting="distribution",
                    value=self.distribution,
                )
            )
        return problems

    def _limit_problems(self) -> list[Problem]:
        problems = []
        # botocore allows 0 (for heterogeneous instance groups, which this job does not use).
        if self.instance_count < 1:
            problems.append(
                Problem(
                    f"instance_count={self.instance_count}: use 1 or more instances (more than one trains distributed).",
                    setting="instance_count",
                    value=self.instance_count,
                )
            )
        if self.volume_size_gb < 1:
            problems.append(
                Problem(
                    f"volume_size_gb={self.volume_size_gb}: use 1 GB or more.",
                    setting="volume_size_gb",
                    value=self.volume_size_gb,
                )
            )
        seconds = self.max_runtime.to_seconds()
        if not 1 <= seconds <= MAX_RUNTIME.to_seconds():
            problems.append(
                Problem(
                    f"max_runtime of {seconds:.0f} s: a training job runs at most 28 days ({MAX_RUNTIME.to_seconds():.0f} s). "
                    "Checkpoint and resume in a new job to train longer.",
                    setting="max_runtime_hours",
                    value=seconds,
                )
            )
        if self.max_retries is not None:
            retries = number_rule("RetryStrategy", "MaximumRetryAttempts")
            if not retries.contains(self.max_retries):
                problems.append(
                    Problem(
                        f"max_retries={self.max_retries}: SageMaker retries {retries.describe()} times.",
                        setting="max_retries",
                        value=self.max_retries,
                    )
                )
        return problems

    def _channel_problems(self) -> list[Problem]:
        problems = []
        names = set()
        for channel in self.channels:
            if not re.fullmatch(r"[A-Za-z0-9\.\-_]{1,64}", channel.name):
                problems.append(
                    Problem(
                        f"channel name {channel.name!r}: use 1 to 64 letters, digits, '.', '-' and '_'.",
                        setting="channels",
                        value=channel.name,
                    )
                )
            if channel.name in names:
                problems.append(
                    Problem(
                        f"channel {channel.name!r} is named twice; give each channel its own name.",
                        setting="channels",
                    )
                )
            names.add(channel.name)
            if not Token.is_unresolved(channel.s3_uri) and not _S3_PREFIX.fullmatch(channel.s3_uri):
                problems.append(
                    Problem(
                        f"channel {channel.name!r}: {channel.s3_uri!r} is not an S3 location; use "
                        "'s3://<bucket>/<prefix>/'.",
                        setting="channels",
                        value=channel.s3_uri,
                    )
                )
            if channel.input_mode not in INPUT_MODES:
                problems.append(
                    Problem(
                        f"channel {channel.name!r}: input_mode={channel.input_mode!r}; use File (copied before "
                        "training), FastFile (streamed on read) or Pipe.",
                        setting="channels",
                        value=channel.input_mode,
                    )
                )
        metrics_limit = 40  # botocore MetricDefinitionList max
        if len(self.metric_definitions) > metrics_limit:
            problems.append(
                Problem(
                    f"{len(self.metric_definitions)} metric definitions: SageMaker takes at most {metrics_limit}.",
                    setting="metric_definitions",
                )
            )
        for metric in self.metric_definitions:
            try:
                compiled = re.compile(metric.regex)
            except re.error as error:
                problems.append(
                    Problem(
                        f"metric {metric.name!r}: its regex {metric.regex!r} does not compile ({error}).",
                        setting="metric_definitions",
                        value=metric.regex,
                    )
                )
                continue
            if compiled.groups < 1:
                problems.append(
                    Problem(
                        f"metric {metric.name!r}: its regex {metric.regex!r} has no group; SageMaker takes the "
                        "metric's value from the first group, e.g. 'loss=([0-9.]+)'.",
                        setting="metric_definitions",
                        value=metric.regex,
                    )
                )
        return problems

    def _map_problems(self) -> list[Problem]:
        problems = []
        for label, values, structure, member in (
            ("hyperparameters", self.hyperparameters, "CreateTrainingJobRequest", "HyperParameters"),
            ("environment", self.environment, "CreateTrainingJobRequest", "Environment"),
        ):
            rule = map_member_rule(structure, member)
            if rule.max_entries is not None and len(values) > rule.max_entries:
                problems.append(
                    Problem(
                        f"{label}: {len(values)} entries; SageMaker takes at most {rule.max_entries}.",
                        setting=label,
                    )
                )
            for key, value in values.items():
                if not isinstance(value, str):
                    problems.append(
                        Problem(
                            f"{label} {key!r} = {value!r}: values are strings; quote it.",
                            setting=label,
                            value=value,
                        )
                    )
                    continue
                for part, what in ((rule.key.violation(key), "name"), (rule.value.violation(value), "value")):
                    if part:
                        problems.append(Problem(f"{label} {key!r}: its {what} {part}.", setting=label))
        return problems

    def _cost_problems(self) -> list[Problem]:
        problems = []
        if self.max_wait is not None and not self.spot:
            problems.append(
                Problem(
                    "max_wait applies to managed spot training only; set spot, or drop max_wait.",
                    setting="max_wait_hours",
                )
            )
        if self.spot and self.max_wait is not None:
            wait, runtime = self.max_wait.to_seconds(), self.max_runtime.to_seconds()
            if wait < runtime:
                problems.append(
                    Problem(
                        f"max_wait ({wait:.0f} s) is shorter than max_runtime ({runtime:.0f} s): SageMaker requires a spot "
                        "job's MaxWaitTimeInSeconds to be at least its MaxRuntimeInSeconds. Raise max_wait.",
                        setting="max_wait_hours",
                        value=wait,
                    )
                )
            elif wait > MAX_RUNTIME.to_seconds():
                problems.append(
                    Problem(
                        f"max_wait ({wait:.0f} s) is longer than 28 days, the longest a training job may take.",
                        setting="max_wait_hours",
                        value=wait,
                    )
                )
        if self.keep_alive is not None and self.spot:
            problems.append(
                Problem(
                    "keep_alive with spot: SageMaker warm pools cannot be used with managed spot training. Drop one "
                    "of them.",
                    setting="keep_alive_minutes",
                )
            )
        if self.keep_alive is not None:
            keep = number_rule("ResourceConfig", "KeepAlivePeriodInSeconds")
            if not keep.contains(self.keep_alive.to_seconds()):
                problems.append(
                    Problem(
                        f"keep_alive of {self.keep_alive.to_seconds():.0f} s: SageMaker keeps a warm pool "
                        f"{keep.describe()} seconds.",
                        setting="keep_alive_minutes",
                        value=self.keep_alive.to_seconds(),
                    )
                )
        return problems

    # --- the request --------------------------------------------------------------------------

    def effective_hyperparameters(self) -> dict[str, str]:
        """The hyperparameters the job runs with: the configured ones, plus the toolkit's and launcher's."""
        hyperparameters = dict(self.hyperparameters)
        if self.source is not None and self.entry_point:
            archive = self.source.s3_url.rsplit("/", 1)[-1]
            hyperparameters.setdefault("sagemaker_program", self.entry_point)
            hyperparameters.setdefault(
                "sagemaker_submit_directory", f"/opt/ml/input/data/{CODE_CHANNEL}/{archive}"
            )
        if self.uses_distribution(self.instance()):
            # What the SageMaker Python SDK sets for distribution={"torch_distributed": {"enabled": True}}.
            hyperparameters.setdefault("sagemaker_torch_distributed_enabled", "true")
            hyperparameters.setdefault("sagemaker_instance_type", json.dumps(self.instance_type))
        return hyperparameters

    def uses_distribution(self, instance: InstanceType | None) -> bool:
        if self.distribution is not None:
            return True
        # On Trainium even one instance trains with torchrun (one process per NeuronCore), and a run
        # may override the instance count.
        return instance is not None and instance.accelerator is AcceleratorKind.AWS_TRAINIUM

    def request(
        self,
        *,
        job_name: str,
        role_arn: str,
        image_uri: str,
        output_s3_uri: str,
        checkpoint_s3_uri: str | None,
        kms_key_arn: str | None,
        security_group_ids: list[str] | None = None,
        subnet_ids: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The ``CreateTrainingJob`` request, checked against botocore's shape (raises on a mismatch).

        ``job_name`` may be a Step Functions JsonPath (``"$..."`` or ``"States.Format(...)"``): it is
        then emitted as ``TrainingJobName.$``.
        """
        instance = self.instance()
        hyperparameters = self.effective_hyperparameters()
        request: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingImage": image_uri,
                "TrainingInputMode": "File",
                **(
                    {
                        "MetricDefinitions": [
                            {"Name": m.name, "Regex": m.regex} for m in self.metric_definitions
                        ]
                    }
                    if self.metric_definitions
                    else {}
                ),
            },
            "RoleArn": role_arn,
            "OutputDataConfig": {
                "S3OutputPath": output_s3_uri,
                **({"KmsKeyId": kms_key_arn} if kms_key_arn else {}),
            },
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": self.volume_size_gb,
                **(
                    {"VolumeKmsKeyId": kms_key_arn}
                    if kms_key_arn and instance is not None and instance.has_instance_storage is False
                    else {}
                ),
                **(
                    {"KeepAlivePeriodInSeconds": int(self.keep_alive.to_seconds())}
                    if self.keep_alive is not None
                    else {}
                ),
            },
            "StoppingCondition": {
                "MaxRuntimeInSeconds": int(self.max_runtime.to_seconds()),
                **({"MaxWaitTimeInSeconds": int(self._max_wait_seconds())} if self.spot else {}),
            },
            "EnableNetworkIsolation": self.network_isolation,
            "EnableInterContainerTrafficEncryption": self.encrypts_inter_container_traffic,
            "EnableManagedSpotTraining": self.spot,
        }
        if job_name.startswith(("$", "States.")):
            request["TrainingJobName.$"] = job_name
        else:
            request["TrainingJobName"] = job_name
        if hyperparameters:
            request["HyperParameters"] = hyperparameters
        environment = dict(self.environment)
        if self.entry_point and self.source is None:
            environment.setdefault("SAGEMAKER_PROGRAM", self.entry_point)
        if environment:
            request["Environment"] = environment
        channels = [channel.to_request() for channel in self.channels]
        if self.source is not None:
            channels.append(InputChannel(CODE_CHANNEL, self.source.s3_url).to_request())
        if channels:
            request["InputDataConfig"] = channels
        if checkpoint_s3_uri is not None:
            request["CheckpointConfig"] = {"S3Uri": checkpoint_s3_uri}
        if self.max_retries is not None:
            request["RetryStrategy"] = {"MaximumRetryAttempts": self.max_retries}
        if security_group_ids is not None and subnet_ids is not None:
            request["VpcConfig"] = {"SecurityGroupIds": security_group_ids, "Subnets": subnet_ids}
        if tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        mismatches = request_problems("CreateTrainingJobRequest", request)
        if mismatches:
            raise TrainingJobError(
                [Problem(f"the CreateTrainingJob request does not match the API: {m}") for m in mismatches]
            )
        return request

    @property
    def encrypts_inter_container_traffic(self) -> bool:
        """On unless switched off: a single instance has no traffic to encrypt, and a run that overrides
        the instance count upwards is still encrypted."""
        if self.inter_container_encryption is not None:
            return self.inter_container_encryption
        return True

    @property
    def needs_checkpoints(self) -> bool:
        return self.spot

    def _max_wait_seconds(self) -> float:
        if self.max_wait is not None:
            return self.max_wait.to_seconds()
        return min(2 * self.max_runtime.to_seconds(), MAX_RUNTIME.to_seconds())
