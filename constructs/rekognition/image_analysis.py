"""Image analysis with Amazon Rekognition, started by images landing in S3.

- An image (JPEG or PNG) created under ``images/`` of the input bucket starts a Step Functions execution that
  runs, side by side, ``DetectLabels``, ``DetectModerationLabels`` and (with a face collection)
  ``SearchFacesByImage``, and writes one JSON result per image under ``results/`` of the output bucket.
- With a collection, an image created under ``faces/<person>/`` is indexed into it (``IndexFaces``, one face,
  Rekognition's automatic quality filter) with ``<person>`` as its external image ID, so later images and the
  video stream find that person; the face ID is written under ``results/faces/``.

Rekognition reads the S3 object with the caller's permissions, so the state machine's role reads the two
prefixes and decrypts with the bucket's key. A failed execution (an image Rekognition cannot read, a
``faces/`` image without a face) fails and alarms.

S3 sends object keys to EventBridge URL-encoded, and Step Functions cannot decode them: a key with a character
that needs encoding (a space, ``+``, ``%``, ``:``...) fails the execution at once with ``UnsupportedKey``, so
keys use letters, digits and ``_ . / -``. ``SearchFacesByImage`` searches the largest face of an image.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters
from mlblueprints.constructs.monitoring.executions import watch_event_started_executions
from mlblueprints.constructs.rekognition.face_collection import FaceCollection

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageAnalysis",
    "ImageAnalysisError",
    "ImageAnalysisOptions",
    "image_analysis_problems",
]

MAX_RESULTS = 100
# Rekognition Image takes JPEG and PNG ("Image specifications", Amazon Rekognition Developer Guide).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


class ImageAnalysisError(MlBlueprintsError):
    """Analysis settings Rekognition would refuse."""


@dataclass(frozen=True)
class ImageAnalysisOptions:
    max_labels: int = 20
    min_confidence: float = 70.0
    moderation: bool = True
    face_match_threshold: float = 90.0
    max_faces: int = 5


def image_analysis_problems(options: ImageAnalysisOptions) -> list[Problem]:
    """The options against the ranges in botocore's Rekognition model."""
    problems = []
    for setting, value, structure, member in (
        ("min_confidence", options.min_confidence, "DetectLabelsRequest", "MinConfidence"),
        ("face_match_threshold", options.face_match_threshold, "SearchFacesByImageRequest", "FaceMatchThreshold"),
    ):  # fmt: skip
        rule = number_rule(structure, member, service="rekognition")
        if not rule.contains(value):
            problems.append(Problem(f"{setting} {value:g}: Rekognition takes {rule.describe()}.",
                                    setting=setting, value=value))  # fmt: skip
    # The flow carries the results through Step Functions' 256 KiB states, so it takes fewer than the API allows.
    for setting, value in (("max_labels", options.max_labels), ("max_faces", options.max_faces)):
        if not 1 <= value <= MAX_RESULTS:
            problems.append(Problem(f"{setting} {value}: 1 to {MAX_RESULTS} (the results travel through Step "
                                    "Functions, 256 KiB a state).", setting=setting, value=value))  # fmt: skip
    return problems


def _image_keys(prefix: str) -> list[dict]:
    return [{"wildcard": f"{prefix}*{suffix}"} for suffix in IMAGE_SUFFIXES]


class ImageAnalysis(Construct):
    """Analyse each image created under ``images/`` of ``input_bucket``; index ``faces/`` into ``collection``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        options: ImageAnalysisOptions = ImageAnalysisOptions(),
        collection: FaceCollection | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = image_analysis_problems(options)
        if problems:
            raise ImageAnalysisError(problems)
        self.collection = collection
        self.state_machine = self._state_machine(input_bucket, output_bucket, encryption_key, options,
                                                 removal_policy)  # fmt: skip
        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        modes = [("ImageCreated", "images/", "analyse")]
        if collection is not None:
            modes.append(("FaceCreated", "faces/", "index"))
        for rule_id, prefix, mode in modes:
            events.Rule(
                self,
                rule_id,
                description=f"Each JPEG or PNG image created under {prefix} is {'indexed' if mode == 'index' else 'analysed'}",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={"bucket": {"name": [input_bucket.bucket_name]}, "object": {"key": _image_keys(prefix)}},
                ),
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        dead_letter_queue=self.dead_letters.queue,
                        input=events.RuleTargetInput.from_object(
                            {"bucket": events.EventField.from_path("$.detail.bucket.name"),
                             "key": events.EventField.from_path("$.detail.object.key"), "mode": mode}
                        ),
                    )
                ],
            )  # fmt: skip
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="An image's analysis or indexing failed (the execution's history says why).",
        )  # fmt: skip

    def _rekognition(
        self,
        id: str,
        action: str,
        parameters: dict,
        selector: dict,
        resources: list[str],
        result_path: str = "$",
        *,
        idempotent: bool = True,
    ) -> tasks.CallAwsService:
        call = tasks.CallAwsService(
            self,
            id,
            service="rekognition",
            action=action,
            iam_action=f"rekognition:{action[0].upper()}{action[1:]}",
            iam_resources=resources,
            parameters={"Image": {"S3Object": {"Bucket": sfn.JsonPath.string_at("$.bucket"),
                                               "Name": sfn.JsonPath.string_at("$.key")}}, **parameters},
            result_selector=selector,
            result_path=result_path,
        )  # fmt: skip
        # Throttling refuses the call, so a retry is safe; after an internal error a call that adds something
        # (IndexFaces) may have done it, so only reads retry then.
        errors = ["Rekognition.ThrottlingException", "Rekognition.ProvisionedThroughputExceededException"]
        if idempotent:
            errors.append("Rekognition.InternalServerErrorException")
        call.add_retry(errors=errors, interval=Duration.seconds(2), max_attempts=5, backoff_rate=2)
        return call

    def _store(self, id: str, key_format: str, body: dict, output_bucket: s3.IBucket) -> tasks.CallAwsService:
        store = tasks.CallAwsService(
            self,
            id,
            service="s3",
            action="putObject",
            iam_action="s3:PutObject",
            iam_resources=[output_bucket.arn_for_objects("results/*")],
            parameters={
                "Bucket": output_bucket.bucket_name,
                "Key": sfn.JsonPath.format(key_format, sfn.JsonPath.string_at("$.key")),
                "Body": body,
                "ContentType": "application/json",
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        store.add_retry(errors=["S3.SdkClientException", "S3.S3Exception"], interval=Duration.seconds(2),
                        max_attempts=3, backoff_rate=2)  # fmt: skip
        return store

    def _state_machine(self, input_bucket, output_bucket, key, options: ImageAnalysisOptions, removal_policy):
        collection = self.collection
        branches = [
            self._rekognition(
                "DetectLabels", "detectLabels",
                {"MaxLabels": options.max_labels, "MinConfidence": options.min_confidence},
                {"Labels": sfn.JsonPath.object_at("$.Labels")}, ["*"],
            )
        ]  # fmt: skip
        if options.moderation:
            branches.append(
                self._rekognition(
                    "DetectModerationLabels", "detectModerationLabels", {"MinConfidence": options.min_confidence},
                    {"ModerationLabels": sfn.JsonPath.object_at("$.ModerationLabels")}, ["*"],
                )
            )  # fmt: skip
        if collection is not None:
            search = self._rekognition(
                "SearchFaces", "searchFacesByImage",
                {"CollectionId": collection.collection_id, "FaceMatchThreshold": options.face_match_threshold,
                 "MaxFaces": options.max_faces, "QualityFilter": "AUTO"},
                {"FaceMatches": sfn.JsonPath.object_at("$.FaceMatches")}, [collection.policy_arn],
            )  # fmt: skip
            # An image without a face is not an error of the analysis: it has no matches.
            search.add_catch(
                sfn.Pass(self, "NoFace", parameters={"FaceMatches": [],
                                                     "SearchError": sfn.JsonPath.string_at("$.error.Cause")}),
                errors=["Rekognition.InvalidParameterException"],
                result_path="$.error",
            )  # fmt: skip
            branches.append(search)
        analyse = sfn.Parallel(self, "Analyse", result_path="$.analysis")
        for branch in branches:
            analyse.branch(branch)
        result = {"Source": sfn.JsonPath.format("s3://{}/{}", sfn.JsonPath.string_at("$.bucket"),
                                                sfn.JsonPath.string_at("$.key")),
                  "Labels": sfn.JsonPath.object_at("$.analysis[0].Labels")}  # fmt: skip
        if options.moderation:
            result["ModerationLabels"] = sfn.JsonPath.object_at("$.analysis[1].ModerationLabels")
        if collection is not None:
            result["FaceMatches"] = sfn.JsonPath.object_at(f"$.analysis[{len(branches) - 1}].FaceMatches")
        store = self._store("StoreTheAnalysis", "results/{}.json",
                            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.result")), output_bucket)  # fmt: skip
        # The analysis is dropped once summarised, so the state carries one copy of the results.
        summary = sfn.Pass(
            self, "Result", parameters={"key": sfn.JsonPath.string_at("$.key"), "result": result}
        )
        analysis = analyse.next(summary).next(store)
        if collection is None:
            work = analysis
        else:
            index = self._rekognition(
                "IndexTheFace", "indexFaces",
                {"CollectionId": collection.collection_id, "MaxFaces": 1, "QualityFilter": "AUTO",
                 "ExternalImageId": sfn.JsonPath.array_get_item(
                     sfn.JsonPath.string_split(sfn.JsonPath.string_at("$.key"), "/"), 1)},
                {"FaceRecords": sfn.JsonPath.object_at("$.FaceRecords")}, [collection.policy_arn], "$.indexed",
                idempotent=False,
            )  # fmt: skip
            no_face = sfn.Fail(self, "NoFaceIndexed", error="NoFaceIndexed",
                               cause="Rekognition found no face of sufficient quality in the image.")  # fmt: skip
            record = self._store(
                "StoreTheFace", "results/{}.json",
                sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.indexed.FaceRecords[0].Face")), output_bucket,
            )  # fmt: skip
            indexed = sfn.Choice(self, "Indexed?").when(
                sfn.Condition.is_present("$.indexed.FaceRecords[0].Face.FaceId"), record
            ).otherwise(no_face)  # fmt: skip
            work = (
                sfn.Choice(self, "IndexOrAnalyse?")
                .when(sfn.Condition.string_equals("$.mode", "index"), index.next(indexed))
                .otherwise(analysis)
            )
        unsupported = sfn.Fail(self, "UnsupportedKey", error="UnsupportedKey",
                               cause="The object's key has a character S3 URL-encodes in events (a space, +, %, :...); "
                               "Step Functions cannot decode it. Use letters, digits and _ . / - in keys.")  # fmt: skip
        definition = (
            sfn.Choice(self, "PlainKey?")
            .when(sfn.Condition.or_(sfn.Condition.string_matches("$.key", "*%*"),
                                    sfn.Condition.string_matches("$.key", "*+*")), unsupported)
            .otherwise(work)
        )  # fmt: skip
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.minutes(15),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=encrypted_log_group(self, "Logs", encryption_key=key, removal_policy=removal_policy,
                                                purpose="states"),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key),
        )  # fmt: skip
        prefixes = ["images/*"] + (["faces/*"] if collection is not None else [])
        # Rekognition reads the image as the caller, from the KMS-encrypted bucket.
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects(p) for p in prefixes])
        )  # fmt: skip
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(machine.role)
        skip_checkov(
            policy.node.default_child,
            CKV_AWS_111="rekognition:DetectLabels and DetectModerationLabels have no resource type (they analyse an "
            "image, not a resource); the role reads only images/ and faces/ of this stack's bucket.",
        )
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="image analysis and tracing",
            reason="rekognition:DetectLabels and DetectModerationLabels have no resource type, and X-Ray's "
            "PutTraceSegments, PutTelemetryRecords and GetSampling* support no resource-level permissions.",
        )
        for prefix in prefixes:
            acknowledge_wildcard_resource(policy, input_bucket.arn_for_objects(prefix), topic="images",
                                          reason=f"Rekognition reads each image under {prefix[:-1]} as the flow; "
                                          "the keys are the users' own.")  # fmt: skip
        acknowledge_wildcard_resource(policy, output_bucket.arn_for_objects("results/*"), topic="results",
                                      reason="The flow writes one result per image under results/, named after it.")  # fmt: skip
        return machine
