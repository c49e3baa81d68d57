"""Blueprint: an Amazon Comprehend custom classifier trained in a private VPC, served by an endpoint or a flywheel."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy

from constructs import Construct
from mlblueprints.blueprints.text_insights.settings import COMPREHEND_TYPES, TextInsightsSettings
from mlblueprints.constructs.comprehend.custom_classifier import (
    READ_PREFIXES,
    WRITE_PREFIXES,
    CustomClassifier,
)
from mlblueprints.constructs.comprehend.entity_recognizer import EntityRecognizerTraining
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["TextInsightsStack"]


class TextInsightsStack(AvailabilityZonesAtDeployTime):
    """The private network, the data bucket, the classifier and its serving."""

    def __init__(
        self, scope: Construct, id: str, *, settings: TextInsightsSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or "mlblueprints text insights: an Amazon Comprehend custom classifier",
        )
        assert_services_at_deploy(self, "comprehend", what="Amazon Comprehend")
        assert_resource_types_at_deploy(self, *COMPREHEND_TYPES, what="Comprehend custom models")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            removal_policy=removal_policy,
            sagemaker_endpoints=False,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        key, network = baseline.key.key, baseline.network
        self.data = SecureBucket(self, "Data", encryption_key=key, removal_policy=removal_policy)
        bucket = self.data.bucket
        # Training in the isolated subnets reaches S3 through the gateway endpoint, whose policy names each prefix.
        network.allow_s3_objects(*(bucket.arn_for_objects(f"{p}*") for p in READ_PREFIXES))
        # Output archives may be uploaded in parts (the S3 endpoint policy in "Protect jobs by using an Amazon VPC").
        network.allow_s3_objects(
            *(bucket.arn_for_objects(f"{p}*") for p in WRITE_PREFIXES),
            actions=("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
        )
        network.allow_s3_objects(bucket.bucket_arn, actions=("s3:ListBucket", "s3:GetBucketLocation"))
        self.classifier = CustomClassifier(
            self,
            "Classifier",
            training_folder=settings.training_folder,
            bucket=bucket,
            encryption_key=key,
            vpc=network.vpc,
            subnets=network.subnets,
            serving=settings.serving,
            inference_units=settings.inference_units,
            language_code=settings.language_code,
            removal_policy=removal_policy,
        )
        self.classifier.classifier.node.add_dependency(network.s3_endpoint)
        self.entity_recognizer = None
        if settings.entity_recognizer:
            topic = AlarmTopic(self, "Notifications", encryption_key=key, display_name="Text insights").topic
            if settings.notification_email:
                subscribe_email(
                    topic, settings.notification_email, record="each training's execution history"
                )
            self.entity_recognizer = EntityRecognizerTraining(
                self,
                "EntityRecognizer",
                folder=settings.entities_folder,
                bucket=bucket,
                encryption_key=key,
                data_access_role=self.classifier.role,
                vpc_config=self.classifier.vpc_config,
                topic=topic,
                language_code=settings.language_code,
                removal_policy=removal_policy,
            )
            CfnOutput(self, "EntityRecognizerArn",
                      value=self.entity_recognizer.version_arn,
                      description="Trained after the deploy: aws comprehend describe-entity-recognizer --entity-recognizer-arn ...")  # fmt: skip
        CfnOutput(self, "ClassifierArn", value=self.classifier.model_arn)
        if self.classifier.endpoint is not None:
            CfnOutput(self, "EndpointArn", value=self.classifier.endpoint.attr_arn,
                      description="aws comprehend classify-document --endpoint-arn ... --text ...")  # fmt: skip
        if self.classifier.flywheel is not None:
            CfnOutput(self, "FlywheelArn", value=self.classifier.flywheel.attr_arn)
        CfnOutput(
            self,
            "DataBucket",
            value=self.data.bucket_name,
            description="training/ (the deployed data), input/ (jobs), datasets/ (flywheel), output/, datalake/",
        )
