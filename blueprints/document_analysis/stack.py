"""Blueprint: Amazon Textract on documents in S3, asynchronous for PDF and TIFF, with optional A2I review."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.blueprints.document_analysis.settings import DocumentAnalysisSettings
from mlblueprints.blueprints.human_review import HumanReview, WorkforceSettings
from mlblueprints.constructs.a2i.activation_conditions import A2iTaskType
from mlblueprints.constructs.a2i.notifications import HumanLoopNotifications
from mlblueprints.constructs.a2i.task_ui import TEMPLATES_DIR
from mlblueprints.constructs.compute.regional_offerings import assert_services_at_deploy
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket
from mlblueprints.constructs.textract.document_analysis import DocumentAnalysis

__all__ = ["DocumentAnalysisStack"]


class DocumentAnalysisStack(Stack):
    """Documents and results buckets, the analysis flow, its topic and, optionally, human review."""

    def __init__(
        self, scope: Construct, id: str, *, settings: DocumentAnalysisSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints document analysis: Amazon Textract ({', '.join(settings.features)}) on documents in S3",
        )
        assert_services_at_deploy(self, "textract", what="Amazon Textract")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.documents = SecureBucket(self, "Documents", encryption_key=key, removal_policy=removal_policy)
        self.documents.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)
        self.topic = AlarmTopic(
            self, "Notifications", encryption_key=key, display_name="Document analysis"
        ).topic
        if settings.notification_email:
            subscribe_email(
                self.topic,
                settings.notification_email,
                record="each execution's history in Step Functions keeps why a document failed",
            )
        self.review = None
        review = settings.human_review
        if review is not None:
            # The worker portal loads the image from the browser (A2I needs CORS on the input bucket).
            self.documents.bucket.add_cors_rule(allowed_methods=[s3.HttpMethods.GET], allowed_origins=["*"])
            self.review = HumanReview.create(
                self,
                workforce_settings=review.workforce or WorkforceSettings(),
                task_type=A2iTaskType.TEXTRACT_FORMS,
                template=TEMPLATES_DIR / "textract-forms.liquid.html",
                activation_conditions=review.activation_conditions(),
                task_title="Check the fields of a form",
                task_description="Correct the form fields the model read with low confidence.",
                task_count=review.task_count,
                task_time_limit=Duration.minutes(review.task_time_limit_minutes),
                task_availability_lifetime=Duration.hours(review.task_availability_hours),
                output_bucket=self.results.bucket,
                input_buckets=[self.documents.bucket],
                encryption_key=key,
                removal_policy=removal_policy,
            )
        self.analysis = DocumentAnalysis(
            self,
            "Analysis",
            input_bucket=self.documents.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            features=settings.features,
            queries=settings.textract_queries(),
            flow_definition=self.review.flow_definition if self.review else None,
            removal_policy=removal_policy,
        )
        if self.review is not None:
            HumanLoopNotifications(
                self,
                "HumanLoops",
                flow_definition_arns=[self.review.flow_definition.flow_definition_arn],
                topic=self.topic,
                topic_key=key,
                dead_letter_queue=self.analysis.dead_letters.queue,
            )
            CfnOutput(self, "ReviewersUserPool", value=self.review.workforce.user_pool_id,
                      description="Invite reviewers to group 'reviewers'")  # fmt: skip
        CfnOutput(
            self,
            "DocumentBucket",
            value=self.documents.bucket_name,
            description="Put PDF, TIFF, JPEG or PNG documents here to analyse them",
        )
        CfnOutput(
            self,
            "ResultsUri",
            value=f"s3://{self.results.bucket_name}/",
            description="analysis/: each document's analysis or job summary; textract/: asynchronous result pages",
        )
        CfnOutput(self, "StateMachineArn", value=self.analysis.state_machine.state_machine_arn)
