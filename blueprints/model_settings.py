"""The model definition every endpoint blueprint shares, so that a stack switches serving mode by
changing its ``blueprint`` and keeps its image, model artifact and environment as they are.

:class:`ModelSettings` holds those settings (and the alarm e-mail and data retention every endpoint
has); :func:`model_preflight` runs the constructs' own image and model-data checks on a raw config,
and :func:`build_model_parts` turns the settings into the constructs' inputs. A blueprint that
cannot take a setting another mode has says why in its ``not_applicable`` table, so a stack moved
between modes gets the reason, not only "unknown setting".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_kms as kms
from pydantic import Field

from constructs import Construct
from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.compute.instance_types import InstanceType
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage, image_problems
from mlblueprints.constructs.sagemaker.endpoint_base import EndpointBase, alarm_email_problems
from mlblueprints.constructs.sagemaker.model_data import ModelData, key_region_problems

__all__ = [
    "SMOKE_TEST_MODEL",
    "ModelSettings",
    "add_endpoint_outputs",
    "build_model_parts",
    "model_preflight",
    "typed",
    "typed_options",
]

SMOKE_TEST_MODEL = Path(__file__).parent / "realtime_endpoint" / "smoke_test_model"

# A KMS key ARN (grants and key policies need the key, not an alias: "Using aliases to control
# access to KMS keys", AWS KMS Developer Guide).
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})$"


class ModelSettings(BlueprintSettings):
    """Image, model artifact, environment and what every endpoint stack has."""

    dlc_repository: str | None = Field(
        None,
        description="An AWS Deep Learning Containers repository, e.g. pytorch-inference or "
        "pytorch-inference-neuronx. Required with dlc_tag unless image_uri is set.",
    )
    dlc_tag: str | None = Field(
        None,
        description="Its tag, e.g. 2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker. Required with dlc_repository.",
    )
    image_uri: str | None = Field(
        None,
        description="Your own image in ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>), in the "
        "stack's region, instead of a DLC.",
    )
    image_repository: str | None = Field(
        None,
        description="Your own image by ECR repository name, in the stack's own account and region (the "
        "RepositoryName output of a container-image stack), with image_tag; instead of image_uri or a DLC.",
    )
    image_tag: str | None = Field(
        None,
        description="The tag of the image in image_repository (the container-image stack's ImageTag output).",
    )
    allow_unlisted_image_tags: bool = Field(
        False, description="Accept a DLC tag newer than the catalog's image tables (synth warns)."
    )
    model_data_url: str | None = Field(
        None,
        description="s3://<bucket>/<key>.tar.gz, or a folder s3://<bucket>/<prefix>/ of uncompressed model "
        "files (large models: no archive to unpack). Default: the bundled smoke-test model. The model role "
        "may read exactly that object or prefix.",
    )
    model_data_kms_key_arn: str | None = Field(
        None,
        pattern=KMS_KEY_ARN,
        description="KMS key ARN (not an alias) of an SSE-KMS model bucket; the model role may decrypt with it.",
    )
    environment: dict[str, str] | None = Field(None, description="Container environment variables.")
    endpoint_name: str | None = Field(
        None,
        description="A fixed endpoint name. Default: the construct path plus a block of the stack ID, new "
        "for each re-creation of the stack.",
    )
    alarm_email: str | None = Field(
        None,
        description="Subscribe this address to the alarm topic (SNS mails a link to confirm).",
    )
    retain_data: bool = Field(
        True,
        description="Keep the KMS key, log groups and buckets when the stack is deleted. false deletes the key "
        "and log groups with it, and the buckets once empty (CloudFormation cannot delete a bucket that still "
        "holds objects: empty it first).",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )


def model_preflight(
    config: dict[str, Any], *, region: str | None, instance: InstanceType | None
) -> tuple[list[Problem], ContainerImage | None]:
    """The image, model-data and alarm e-mail problems of a raw config, and its image if it has one."""
    problems = image_source_problems(config)
    if config.get("model_data_kms_key_arn") and not config.get("model_data_url"):
        problems.append(
            Problem(
                "model_data_kms_key_arn needs model_data_url: the bundled smoke-test model is not "
                "KMS-encrypted",
                setting="model_data_kms_key_arn",
            )
        )
    image = image_of(config)
    if isinstance(image, ContainerImage):
        problems += [
            p for error in image_problems(image, instance, region or Aws.REGION) for p in error.problems
        ]
    elif image is not None:
        problems += image
        image = None
    if isinstance(config.get("model_data_url"), str):
        try:
            ModelData.from_url(config["model_data_url"])
        except MlBlueprintsError as error:
            problems += error.problems
    key_arn = config.get("model_data_kms_key_arn")
    if isinstance(key_arn, str) and region:
        problems += key_region_problems(key_arn, region)
    if isinstance(config.get("alarm_email"), str):
        problems += alarm_email_problems(config["alarm_email"])
    return problems, image


def build_model_parts(
    scope: Construct, settings: Any, *, key_id: str = "ModelDataKey"
) -> tuple[ContainerImage, ModelData]:
    """The container image and model data the settings name (the smoke-test model by default).

    ``settings`` has the model keys of :class:`ModelSettings` (a variant's settings have them too);
    ``key_id`` is the construct ID of an imported model-data key.
    """
    if settings.image_uri:
        image = ContainerImage.from_image_uri(settings.image_uri)
    elif getattr(settings, "image_repository", None):
        image = ContainerImage.from_repository_name(settings.image_repository, settings.image_tag)
    else:
        image = ContainerImage.from_dlc(
            settings.dlc_repository,
            settings.dlc_tag,
            allow_unlisted_tag=getattr(settings, "allow_unlisted_image_tags", False),
        )
    if settings.model_data_url:
        data_key = (
            kms.Key.from_key_arn(scope, key_id, settings.model_data_kms_key_arn)
            if settings.model_data_kms_key_arn
            else None
        )
        return image, ModelData.from_url(settings.model_data_url, encryption_key=data_key)
    return image, ModelData.from_directory(scope, "SmokeTestModel", SMOKE_TEST_MODEL)


def add_endpoint_outputs(stack: Stack, endpoint: EndpointBase) -> None:
    """The outputs every endpoint stack has: the endpoint's name and ARN, and its alarm topic."""
    CfnOutput(stack, "EndpointName", value=endpoint.endpoint_name, description="SageMaker endpoint name")
    CfnOutput(stack, "EndpointArn", value=endpoint.endpoint_arn, description="SageMaker endpoint ARN")
    if endpoint.alarm_topic is not None:
        CfnOutput(
            stack,
            "AlarmTopicArn",
            value=endpoint.alarm_topic.topic_arn,
            description="Subscribe to this SNS topic to receive the endpoint's alarms",
        )


def image_source_problems(config: dict[str, Any]) -> list[Problem]:
    """Exactly one image source: image_uri, image_repository with image_tag, or a DLC."""
    sources = [
        name
        for name, given in (
            ("image_uri", config.get("image_uri")),
            ("image_repository", config.get("image_repository") or config.get("image_tag")),
            ("dlc_repository", config.get("dlc_repository") or config.get("dlc_tag")),
        )
        if given
    ]
    if len(sources) > 1:
        return [
            Problem(
                f"{' and '.join(sources)} both name an image; set one source, not both: image_uri (your own ECR "
                "image by URI), "
                "image_repository with image_tag (your own image by name, in the stack's region), or "
                "dlc_repository with dlc_tag (an AWS Deep Learning Container)",
                setting=sources[0],
            )
        ]
    problems = []
    for name, tag in (("image_repository", "image_tag"), ("dlc_repository", "dlc_tag")):
        if sources == [name] and not (config.get(name) and config.get(tag)):
            missing = tag if config.get(name) else name
            problems.append(Problem(f"{name} and {tag} go together: set {missing} too", setting=missing))
    if not sources:
        problems.append(
            Problem(
                "no container image: set image_uri to your ECR image, image_repository and image_tag to an "
                "image a container-image stack published, or both dlc_repository and dlc_tag, "
                'e.g. "pytorch-inference" and "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"',
                setting="dlc_repository",
            )
        )
    return problems


def image_of(config: dict[str, Any]) -> ContainerImage | list[Problem] | None:
    repository, tag, uri = config.get("dlc_repository"), config.get("dlc_tag"), config.get("image_uri")
    own, own_tag = config.get("image_repository"), config.get("image_tag")
    if isinstance(own, str) and isinstance(own_tag, str) and not (uri or repository or tag):
        try:
            return ContainerImage.from_repository_name(own, own_tag)
        except MlBlueprintsError as error:
            return error.problems
    if isinstance(uri, str) and uri and not (repository or tag):
        try:
            return ContainerImage.from_image_uri(uri)
        except MlBlueprintsError as error:
            return error.problems
    if isinstance(repository, str) and isinstance(tag, str) and not uri:
        return ContainerImage.from_dlc(
            repository, tag, allow_unlisted_tag=config.get("allow_unlisted_image_tags") is True
        )
    return None


def typed(config: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """``config[key]`` if it has the type pydantic will accept (strict: no bools for numbers)."""
    value = config.get(key, default)
    if value is None or isinstance(value, bool):
        return None
    if kind is float and isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # a JSON integer beyond any float: out of every range anyway
            return float("inf")
    return value if isinstance(value, kind) else None


def typed_options(config: dict[str, Any], options: type, **kinds: type) -> Any:
    """``options(**values)`` from the keys that are set with the right type; ``None`` if one is mistyped."""
    values = {}
    for key, kind in kinds.items():
        if config.get(key) is None:
            continue
        value = typed(config, key, kind)
        if value is None:
            return None
        values[key] = value
    return options(**values)
