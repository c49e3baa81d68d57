"""Every blueprint of the catalog: its name, settings, stack and example config, in one place.

The catalog app, the JSON Schemas, the README's settings tables and the contract test all read this
registry, so a blueprint added here is synthesized, documented and gated with no other edit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Environment, Stack

from constructs import Construct
from mlblueprints.blueprints.async_endpoint.settings import AsyncEndpointSettings
from mlblueprints.blueprints.inference_components_endpoint.settings import InferenceComponentsEndpointSettings
from mlblueprints.blueprints.multi_model_endpoint.settings import MultiModelEndpointSettings
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings
from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.blueprints.training_pipeline.settings import TrainingPipelineSettings

__all__ = ["BLUEPRINTS", "RETIRED_BLUEPRINTS", "SCHEMA_DIR", "Blueprint", "retired_blueprint"]

BLUEPRINTS_DIR = Path(__file__).parent
SCHEMA_DIR = BLUEPRINTS_DIR / "schemas"


@dataclass(frozen=True)
class Blueprint:
    """A blueprint: its settings, and its stack class by dotted path.

    The stack class is imported when a stack of the blueprint is built: each pulls in the aws_cdk
    modules it uses (Step Functions, EventBridge, ...), which an app that builds only endpoints
    should not pay for at start-up.
    """

    name: str
    summary: str
    settings_source: type[BlueprintSettings] | str
    stack_path: str
    example: Path

    @property
    def settings(self) -> type[BlueprintSettings]:
        """The settings class; a dotted path is imported on first use (its constructs load jsii modules
        that an app building other blueprints should not pay for)."""
        if isinstance(self.settings_source, str):
            module, _, name = self.settings_source.rpartition(".")
            return getattr(importlib.import_module(module), name)
        return self.settings_source

    @property
    def stack(self) -> Callable[..., Stack]:
        module, _, name = self.stack_path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def build(
        self, scope: Construct, id: str, *, settings: BlueprintSettings, env: Environment | None
    ) -> Stack:
        return self.stack(scope, id, settings=settings, env=env)

    @property
    def schema_path(self) -> Path:
        return SCHEMA_DIR / f"{self.name}.schema.json"


BLUEPRINTS: dict[str, Blueprint] = {
    blueprint.name: blueprint
    for blueprint in (
        Blueprint(
            name=RealtimeEndpointSettings.blueprint_name,
            summary=(
                "A SageMaker real-time endpoint (model, endpoint config, endpoint) on GPU, Inferentia or "
                "Trainium, in a private VPC with the SageMaker, ECR, CloudWatch Logs, STS and S3 endpoints; "
                "network isolation; a rotating KMS key; two instances across availability zones; "
                "target-tracking auto scaling; alarms on 5XX errors and p90 model latency to an encrypted "
                "SNS topic; safe updates (rolling on accelerated fleets, blue/green all at once, canary or "
                "linear elsewhere) rolled back on those alarms. Optional: A/B variants or a shadow, data "
                "capture to an encrypted bucket, uncompressed model folders with longer startup timeouts "
                "and a larger volume. Outputs for the endpoint name and ARN."
            ),
            settings_source=RealtimeEndpointSettings,
            stack_path="mlblueprints.blueprints.realtime_endpoint.stack.RealtimeEndpointStack",
            example=BLUEPRINTS_DIR / "realtime_endpoint" / "example.json",
        ),
        Blueprint(
            name=MultiModelEndpointSettings.blueprint_name,
            summary=(
                "The real-time blueprint hosting many models on one fleet (Mode: MultiModel): every "
                "model.tar.gz under one S3 prefix, loaded on its first request (TargetModel) and unloaded "
                "when idle. On CPU instances with the PyTorch, TensorFlow, MXNet or Triton images, or on "
                "single-GPU instances with Triton; Inferentia, Trainium and multi-GPU types are refused."
            ),
            settings_source=MultiModelEndpointSettings,
            stack_path="mlblueprints.blueprints.multi_model_endpoint.stack.MultiModelEndpointStack",
            example=BLUEPRINTS_DIR / "multi_model_endpoint" / "example.json",
        ),
        Blueprint(
            name=InferenceComponentsEndpointSettings.blueprint_name,
            summary=(
                "Several models sharing one endpoint's instances as inference components, in the same "
                "private VPC with the same key and alarms: each component's accelerators, CPU cores and "
                "memory per copy are checked against the instance type; copies scale on concurrent "
                "requests down to zero and wake on the first request; managed instance scaling follows "
                "them down to zero instances; changed components are replaced a copy at a time under "
                "their own alarms."
            ),
            settings_source=InferenceComponentsEndpointSettings,
            stack_path="mlblueprints.blueprints.inference_components_endpoint.stack.InferenceComponentsEndpointStack",
            example=BLUEPRINTS_DIR / "inference_components_endpoint" / "example.json",
        ),
        Blueprint(
            name=AsyncEndpointSettings.blueprint_name,
            summary=(
                "A SageMaker asynchronous endpoint: the real-time blueprint's instances, VPC, key, alarms "
                "and safe updates, plus a queue. Inputs and results in a KMS-encrypted, retained bucket; "
                "success and error notifications on encrypted SNS topics; the fleet tracks the backlog "
                "per instance down to zero and a step policy on HasBacklogWithoutCapacity wakes it; "
                "an alarm on the age of the oldest queued request."
            ),
            settings_source=AsyncEndpointSettings,
            stack_path="mlblueprints.blueprints.async_endpoint.stack.AsyncEndpointStack",
            example=BLUEPRINTS_DIR / "async_endpoint" / "example.json",
        ),
        Blueprint(
            name=ServerlessEndpointSettings.blueprint_name,
            summary=(
                "A SageMaker serverless endpoint: the same model definition served on CPU without "
                "instances, scaling with requests up to max_concurrency and to zero when idle (optional "
                "provisioned concurrency against cold starts); a rotating KMS key; blue/green updates "
                "rolled back on alarms; alarms on 5XX errors, latency, cold starts and concurrency near "
                "the throttling limit. No VPC or network isolation: serverless does not support them."
            ),
            settings_source=ServerlessEndpointSettings,
            stack_path="mlblueprints.blueprints.serverless_endpoint.stack.ServerlessEndpointStack",
            example=BLUEPRINTS_DIR / "serverless_endpoint" / "example.json",
        ),
        Blueprint(
            name=TrainingPipelineSettings.blueprint_name,
            summary=(
                "SageMaker training on GPU or Trainium, run on demand or on a schedule: a Step Functions "
                "state machine (logging ALL, X-Ray) starts each job with the whole CreateTrainingJob request "
                "(spot, per-run checkpoints, warm pools, retries, inter-container encryption, VPC and "
                "network isolation, code as an input channel), validated against botocore at synth; "
                "executions override hyperparameters, instance count and channels; outputs in a "
                "KMS-encrypted, retained bucket; failed runs and jobs notify an encrypted topic; trained "
                "models are registered, pending approval, in a model package group, which realtime-endpoint "
                "serves by model_package_arn once approved."
            ),
            settings_source=TrainingPipelineSettings,
            stack_path="mlblueprints.blueprints.training_pipeline.stack.TrainingPipelineStack",
            example=BLUEPRINTS_DIR / "training_pipeline" / "example.json",
        ),
        Blueprint(
            name="container-image",
            summary=(
                "A bring-your-own container in a hardened ECR repository: scan on push, immutable tags (named "
                "moving-tag exceptions), a rotating KMS key, lifecycle rules, pulls for named accounts only, "
                "retained on deletion. The image is built from a local Dockerfile directory, checked at synth "
                "against SageMaker's serving or training contract, and published by cdk deploy under a "
                "new tag per change of the build context: with Docker (a CDK image asset copied into the repository) or, without "
                "Docker, in CodeBuild with encrypted logs. Optional account registry settings: an ECR Public "
                "pull-through cache for AWS's Deep Learning Containers, enhanced scanning, replication. Outputs "
                "for the repository name and the image URI that endpoint and training stacks take."
            ),
            settings_source="mlblueprints.blueprints.container_image.settings.ContainerImageSettings",
            stack_path="mlblueprints.blueprints.container_image.stack.ContainerImageStack",
            example=BLUEPRINTS_DIR / "container_image" / "example.json",
        ),
        Blueprint(
            name="ec2-fleet",
            summary=(
                "An auto-scaling fleet of GPU, Trainium or Inferentia EC2 instances on the AWS Deep Learning AMIs "
                "(GPU or Neuron, from AWS's public SSM parameters at deploy time), in an isolated VPC reached "
                "through SSM Session Manager: IMDSv2, KMS-encrypted root volumes, no public IPs, SSH keys or "
                "inbound rules, a least-privilege instance role, GPU or Neuron health and utilization to CloudWatch "
                "with alarms on accelerator errors, missing devices and failed status checks. For "
                "distributed training, EFA interfaces in AWS's layout, a cluster placement group and a self-only "
                "security group; for cost, spot across several types with capacity rebalancing, capacity "
                "reservations or Capacity Blocks for ML, scheduled scaling and scaling to zero when idle; instances "
                "replaced a "
                "batch at a time on a new AMI; scaling events to an encrypted topic. Outputs to find and reach "
                "the instances."
            ),
            settings_source="mlblueprints.blueprints.ec2_fleet.settings.Ec2FleetSettings",
            stack_path="mlblueprints.blueprints.ec2_fleet.stack.Ec2FleetStack",
            example=BLUEPRINTS_DIR / "ec2_fleet" / "example.json",
        ),
        Blueprint(
            name="document-review",
            summary=(
                "Amazon A2I human review of documents: files land in an encrypted S3 bucket, a Step Functions flow "
                "(SDK integrations only) runs Textract AnalyzeDocument (forms) under a flow definition whose "
                "activation conditions send low-confidence fields to a private work team, and the analyses and "
                "the reviewers' answers land in an encrypted, retained bucket. A private workforce on a secure "
                "Cognito user pool (MFA, threat protection, no self sign-up) or the account's existing one; a "
                "task UI from a template checked at synth; the flow definition as a custom resource; finished "
                "human loops and failed analyses to an encrypted topic."
            ),
            settings_source="mlblueprints.blueprints.document_review.settings.DocumentReviewSettings",
            stack_path="mlblueprints.blueprints.document_review.stack.DocumentReviewStack",
            example=BLUEPRINTS_DIR / "document_review" / "example.json",
        ),
        Blueprint(
            name="moderation-review",
            summary=(
                "Amazon A2I human review of image moderation: images land in an encrypted S3 bucket, Rekognition "
                "DetectModerationLabels runs under a flow definition that sends unsure labels to a private work "
                "team, and the labels and the reviewers' answers land in an encrypted, retained bucket; the same "
                "workforce, task UI, flow definition and notifications as document-review."
            ),
            settings_source="mlblueprints.blueprints.moderation_review.settings.ModerationReviewSettings",
            stack_path="mlblueprints.blueprints.moderation_review.stack.ModerationReviewStack",
            example=BLUEPRINTS_DIR / "moderation_review" / "example.json",
        ),
        Blueprint(
            name="hyperpod-cluster",
            summary=(
                "A SageMaker HyperPod cluster for large-scale training on Trainium or GPU, orchestrated by Slurm that "
                "HyperPod configures (controller, optional login and compute groups), with automatic node recovery "
                "and deep health checks, FSx for Lustre at /fsx, lifecycle scripts from a folder in an encrypted "
                "sagemaker-* bucket, a one-zone isolated VPC with the endpoints the nodes use, a security group open "
                "only to itself, and node health events to an encrypted topic."
            ),
            settings_source="mlblueprints.blueprints.hyperpod_cluster.settings.HyperPodClusterSettings",
            stack_path="mlblueprints.blueprints.hyperpod_cluster.stack.HyperPodClusterStack",
            example=BLUEPRINTS_DIR / "hyperpod_cluster" / "example.json",
        ),
        Blueprint(
            name="medical-transcription",
            summary=(
                "HIPAA-eligible medical transcription: FLAC, MP3, MP4 or WAV recordings land in a KMS-encrypted "
                "bucket, EventBridge starts a Step Functions flow that runs an Amazon Transcribe Medical batch job "
                "(specialty, conversation or dictation, speaker labels or channels, PHI marked, a custom medical "
                "vocabulary from a table file checked at synth), then Amazon Comprehend Medical entity and PHI "
                "detection on the transcript, in chunks under the APIs' limit. Transcripts and analyses land in a "
                "retained, encrypted bucket; a CloudTrail trail records every object read and write of both buckets; "
                "failures notify an encrypted topic. Languages and regions Transcribe Medical or Comprehend Medical "
                "do not offer are refused."
            ),
            settings_source="mlblueprints.blueprints.medical_transcription.settings.MedicalTranscriptionSettings",
            stack_path="mlblueprints.blueprints.medical_transcription.stack.MedicalTranscriptionStack",
            example=BLUEPRINTS_DIR / "medical_transcription" / "example.json",
        ),
        Blueprint(
            name="document-analysis",
            summary=(
                "Amazon Textract on documents in S3: PDF and TIFF files (up to 3,000 pages) are analysed "
                "asynchronously (forms, tables, queries), with the results written by Textract to an encrypted, "
                "retained bucket and the job's completion posted to an encrypted SNS topic that resumes the waiting "
                "Step Functions execution (a task token, no polling); JPEG and PNG images are analysed synchronously, "
                "optionally under Amazon A2I review of low-confidence form fields by a private work team. Feature "
                "types and queries checked at synth against botocore; failures notify an encrypted topic."
            ),
            settings_source="mlblueprints.blueprints.document_analysis.settings.DocumentAnalysisSettings",
            stack_path="mlblueprints.blueprints.document_analysis.stack.DocumentAnalysisStack",
            example=BLUEPRINTS_DIR / "document_analysis" / "example.json",
        ),
        Blueprint(
            name="enterprise-search",
            summary=(
                "An Amazon Kendra index (Developer or Enterprise edition, encrypted with the stack's KMS key, extra "
                "query and storage capacity on Enterprise) over a retained, encrypted documents bucket synchronised "
                "on a cron schedule, with an FAQ from a CSV or JSON file checked at synth, and one least-privilege "
                "role each for the index, the data source and the FAQ. Kendra is closed to new customers from July "
                "30, 2026: for accounts that already use it."
            ),
            settings_source="mlblueprints.blueprints.enterprise_search.settings.EnterpriseSearchSettings",
            stack_path="mlblueprints.blueprints.enterprise_search.stack.EnterpriseSearchStack",
            example=BLUEPRINTS_DIR / "enterprise_search" / "example.json",
        ),
        Blueprint(
            name="chatbot",
            summary=(
                "An Amazon Lex V2 bot defined in config (intents, sample utterances, slots and custom slot types; the "
                "pizza-ordering example with a multi-valued toppings slot and a chained drink intent), checked at "
                "synth (every slot an utterance names exists, types defined, names and counts within Lex's limits, a "
                "Polly voice), text and voice, a version per definition and a live alias, a Lambda code hook that "
                "validates each turn against the bot's own values and fulfils, and conversation logs: text to a "
                "KMS-encrypted log group, audio to a KMS-encrypted bucket, with personal slots obfuscated."
            ),
            settings_source="mlblueprints.blueprints.chatbot.settings.ChatbotSettings",
            stack_path="mlblueprints.blueprints.chatbot.stack.ChatbotStack",
            example=BLUEPRINTS_DIR / "chatbot" / "example.json",
        ),
        Blueprint(
            name="translation",
            summary=(
                "Batch translation with Amazon Translate: documents put under input/<batch>/ of an encrypted bucket "
                "are translated into up to ten languages (source detected automatically by default) when start/<batch> "
                "is put, by a Step Functions flow that follows the job and alarms when it fails; a custom terminology "
                "(CSV, TSV or TMX, checked at synth) and optional parallel data, both KMS-encrypted; translations "
                "written, encrypted, to a retained results bucket by a data access role limited to those prefixes."
            ),
            settings_source="mlblueprints.blueprints.translation.settings.TranslationSettings",
            stack_path="mlblueprints.blueprints.translation.stack.TranslationStack",
            example=BLUEPRINTS_DIR / "translation" / "example.json",
        ),
        Blueprint(
            name="speech",
            summary=(
                "Amazon Polly speech from text and SSML in S3: each file put under text/ or ssml/ of an encrypted "
                "bucket is read by a Step Functions flow that starts Polly synthesis tasks for the audio (MP3, OGG or "
                "PCM, a Polly voice and engine checked against botocore) and the speech marks (word and sentence "
                "offsets, for highlighting), with pronunciation lexicons (AWS::Polly::Lexicon from PLS files checked at "
                "synth), and writes a manifest per file; the SSML templates it ships are checked at synth and spoken "
                "on deploy; results in a retained, encrypted bucket."
            ),
            settings_source="mlblueprints.blueprints.speech.settings.SpeechSettings",
            stack_path="mlblueprints.blueprints.speech.stack.SpeechStack",
            example=BLUEPRINTS_DIR / "speech" / "example.json",
        ),
        Blueprint(
            name="text-insights",
            summary=(
                "An Amazon Comprehend custom classifier trained from labelled documents in S3 (a folder in the repo, "
                "checked at synth and copied on deploy) inside a private VPC whose S3 gateway endpoint names each "
                "prefix, with the training volume and output (and the model, unless an endpoint serves it) encrypted "
                "with the stack's KMS key, a new version trained for each change of the data; served by a real-time "
                "endpoint, by a flywheel, or by asynchronous jobs; and a custom entity recognizer trained by a Step "
                "Functions flow from an entity list in the same network."
            ),
            settings_source="mlblueprints.blueprints.text_insights.settings.TextInsightsSettings",
            stack_path="mlblueprints.blueprints.text_insights.stack.TextInsightsStack",
            example=BLUEPRINTS_DIR / "text_insights" / "example.json",
        ),
        Blueprint(
            name="image-video-analysis",
            summary=(
                "Amazon Rekognition on images and live video: each JPEG or PNG put under images/ of an encrypted "
                "bucket gets labels, moderation labels and a face search in a collection (a Step Functions flow of "
                "SDK integrations), each image under faces/<person>/ is indexed into the collection, and, for accounts "
                "that already use Rekognition streaming video, a face search stream processor watches a KMS-encrypted "
                "Kinesis video stream and writes its matches to an encrypted Kinesis data stream; results in a "
                "retained, encrypted bucket."
            ),
            settings_source="mlblueprints.blueprints.image_video_analysis.settings.ImageVideoAnalysisSettings",
            stack_path="mlblueprints.blueprints.image_video_analysis.stack.ImageVideoAnalysisStack",
            example=BLUEPRINTS_DIR / "image_video_analysis" / "example.json",
        ),
        Blueprint(
            name="recommendations",
            summary=(
                "Amazon Personalize recommendations: interactions and items from folders in the repo (checked at synth "
                "against Personalize's minimums, copied to an encrypted bucket and imported on deploy) in a dataset "
                "group under the stack's KMS key, a solution on a recipe that AWS trains automatically, an event "
                "tracker for real-time events, and a campaign on the latest version once one is trained."
            ),
            settings_source="mlblueprints.blueprints.recommendations.settings.RecommendationsSettings",
            stack_path="mlblueprints.blueprints.recommendations.stack.RecommendationsStack",
            example=BLUEPRINTS_DIR / "recommendations" / "example.json",
        ),
        Blueprint(
            name="docs-site",
            summary=(
                "The catalog's documentation site (make docs), or any built static site, served privately through "
                "CloudFront: a KMS-encrypted bucket only the distribution reads (origin access control), a WAF web "
                "ACL that admits the networks you name and AWS's known-bad-input rules, HTTPS only with security "
                "headers, your own name and certificate if you give them, access and WAF logs in encrypted log "
                "groups, and the files copied with the cache invalidated on each deploy; in us-east-1."
            ),
            settings_source="mlblueprints.blueprints.docs_site.settings.DocsSiteSettings",
            stack_path="mlblueprints.blueprints.docs_site.stack.DocsSiteStack",
            example=BLUEPRINTS_DIR / "docs_site" / "example.json",
        ),
    )
}

# Services AWS no longer offers to new customers, by the names a user may ask for them: each answer says so
# and points to what replaces it in this catalog.
_FORECAST = (
    "Amazon Forecast is no longer available to new customers (Amazon Forecast Developer Guide), so the catalog "
    "has no Forecast blueprint. Forecast on SageMaker instead: serve a time-series foundation model such as "
    "Chronos with the realtime-endpoint blueprint (or train your own with training-pipeline); AWS's transition "
    "guide also points to SageMaker Canvas."
)
_ELASTIC_INFERENCE = (
    "Amazon Elastic Inference is no longer available: SageMaker no longer attaches Elastic Inference "
    "accelerators (ml.eia*). Serve on AWS Inferentia instead: the realtime-endpoint blueprint with an Inferentia "
    "type such as ml.inf2.xlarge and a Neuron (neuronx) image."
)
RETIRED_BLUEPRINTS: dict[str, str] = {
    "forecast": _FORECAST,
    "amazon-forecast": _FORECAST,
    "forecasting": _FORECAST,
    "time-series-forecast": _FORECAST,
    "elastic-inference": _ELASTIC_INFERENCE,
    "amazon-elastic-inference": _ELASTIC_INFERENCE,
    "eia": _ELASTIC_INFERENCE,
}


def retired_blueprint(name: object) -> str | None:
    """Why ``name`` (a blueprint someone asked for) is not in the catalog, when it names a retired service."""
    return RETIRED_BLUEPRINTS.get(name.lower().replace("_", "-").strip()) if isinstance(name, str) else None
