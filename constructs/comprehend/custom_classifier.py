"""An Amazon Comprehend custom classifier trained from S3 inside a VPC, served by an endpoint or a flywheel.

- **Training data**: a folder of labelled documents in the repo (``COMPREHEND_CSV``: label, text), checked at
  synth and copied under ``training/`` of an encrypted bucket on deploy.
- **Classifier** (``AWS::Comprehend::DocumentClassifier``, multi-class): CloudFormation trains it while it
  deploys the stack, in the VPC's isolated subnets (S3 through the gateway endpoint only), with the model and
  the training volume encrypted with the stack's key.
- **Serving**: a real-time endpoint (``AWS::Comprehend::DocumentClassifierEndpoint``, billed per inference unit
  and second), a flywheel (``AWS::Comprehend::Flywheel``, to retrain from a data lake under ``datalake/``), or
  none (asynchronous classification jobs).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_comprehend as comprehend
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.constructs._private.names import unique_base_name
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.security.folder_deployment import deploy_folder
from mlblueprints.constructs.security.private_network import grant_vpc_network_interfaces

__all__ = ["SERVING", "TRAINING", "ComprehendError", "CustomClassifier", "training_problems"]

TRAINING = Path(__file__).parent / "training"
SERVING = ("endpoint", "flywheel", "none")
# "Each label must have at least 10 documents" for a multi-class classifier (Amazon Comprehend Developer
# Guide, Training classification models).
MIN_DOCUMENTS_PER_LABEL = 10


class ComprehendError(MlBlueprintsError):
    """Classifier settings Comprehend would refuse."""


def training_problems(folder: Path) -> list[Problem]:
    """The training folder's CSV files: two columns (label, text), at least two labels, ten documents each."""
    if not folder.is_dir():
        return [Problem(f"training data: {folder} is not a folder.", setting="training_data")]
    files = sorted(folder.glob("*.csv"))
    if not files:
        return [Problem(f"training data: {folder} has no .csv file.", setting="training_data")]
    labels: Counter[str] = Counter()
    problems = []
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        for number, row in enumerate(rows, start=1):
            if not row:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                problems.append(
                    Problem(f"training data {path.name}, row {number}: a label and a document (2 columns).",
                            setting="training_data")
                )  # fmt: skip
                continue
            labels[row[0]] += 1
    if len(labels) < 2:
        problems.append(
            Problem(
                f"training data: {len(labels)} label(s); a classifier needs two or more.",
                setting="training_data",
            )
        )
    for label, count in sorted(labels.items()):
        if count < MIN_DOCUMENTS_PER_LABEL:
            problems.append(
                Problem(f"training data: label {label!r} has {count} documents; give at least {MIN_DOCUMENTS_PER_LABEL}.",
                        setting="training_data")
            )  # fmt: skip
    return problems


class CustomClassifier(Construct):
    """Train a classifier on ``training_folder`` in ``vpc`` and serve it (``serving``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        training_folder: Path,
        bucket: s3.IBucket,
        encryption_key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        serving: str = "none",
        inference_units: int = 1,
        language_code: str = "en",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = training_problems(Path(training_folder))
        if serving not in SERVING:
            problems.append(Problem(f"serving {serving!r}: use {', '.join(SERVING)}.", setting="serving"))
        if serving == "endpoint" and inference_units < 1:
            problems.append(Problem("inference_units: 1 or more for an endpoint.", setting="inference_units"))
        if problems:
            raise ComprehendError(problems)
        self.training = deploy_folder(
            self,
            "TrainingData",
            folder=Path(training_folder),
            bucket=bucket,
            prefix="training/",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            purpose="comprehend",
            what="the training data",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Comprehend training: HTTPS to S3 through the gateway endpoint only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "S3 through the gateway endpoint"
        )
        self.role = iam.Role(
            self,
            "DataAccessRole",
            assumed_by=iam.ServicePrincipal(
                "comprehend.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:comprehend:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
            description="Comprehend: reads training data, writes output, in this stack's VPC",
        )
        readable = [bucket.arn_for_objects("training/*"), bucket.arn_for_objects("datalake/*")]
        writable = [bucket.arn_for_objects("output/*"), bucket.arn_for_objects("datalake/*")]
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=readable))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=writable))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"],
                resources=[encryption_key.key_arn],
            )
        )
        grant_vpc_network_interfaces(self.role, service="Comprehend", what="a Comprehend training job")
        acknowledge_inline_policy(self.role)
        policy = self.role.node.find_child("DefaultPolicy")
        for resource in {*readable, *writable}:
            acknowledge_wildcard_resource(
                policy,
                resource,
                topic="training data and model output",
                reason="Comprehend reads every document of the training prefix and writes its output and data-lake "
                "files under their prefixes only.",
            )
        key_arn = encryption_key.key_arn
        vpc_config = {
            "SecurityGroupIds": [self.security_group.security_group_id],
            "Subnets": vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
        }
        self.classifier = comprehend.CfnDocumentClassifier(
            self,
            "Classifier",
            document_classifier_name=unique_base_name(self, max_length=63),
            data_access_role_arn=self.role.role_arn,
            language_code=language_code,
            mode="MULTI_CLASS",
            input_data_config=comprehend.CfnDocumentClassifier.DocumentClassifierInputDataConfigProperty(
                data_format="COMPREHEND_CSV", s3_uri=f"s3://{bucket.bucket_name}/training/"
            ),
            output_data_config=comprehend.CfnDocumentClassifier.DocumentClassifierOutputDataConfigProperty(
                s3_uri=f"s3://{bucket.bucket_name}/output/", kms_key_id=key_arn
            ),
            model_kms_key_id=key_arn,
            volume_kms_key_id=key_arn,
        )
        self.classifier.add_property_override("VpcConfig", vpc_config)
        # Trained only once the data is in place and the role may read it.
        self.classifier.node.add_dependency(self.training, self.role)
        self.model_arn = self.classifier.attr_arn
        self.endpoint = self.flywheel = None
        if serving == "endpoint":
            self.endpoint = comprehend.CfnDocumentClassifierEndpoint(
                self,
                "Endpoint",
                endpoint_name=unique_base_name(self, max_length=40 - len("-endpoint")) + "-endpoint",
                model_arn=self.model_arn,
                desired_inference_units=inference_units,
            )
        elif serving == "flywheel":
            self.flywheel = comprehend.CfnFlywheel(
                self,
                "Flywheel",
                flywheel_name=unique_base_name(self, max_length=63 - len("-flywheel")) + "-flywheel",
                data_access_role_arn=self.role.role_arn,
                data_lake_s3_uri=f"s3://{bucket.bucket_name}/datalake/",
                active_model_arn=self.model_arn,
            )
            self.flywheel.add_property_override(
                "DataSecurityConfig",
                {
                    "ModelKmsKeyId": key_arn,
                    "VolumeKmsKeyId": key_arn,
                    "DataLakeKmsKeyId": key_arn,
                    "VpcConfig": vpc_config,
                },
            )
