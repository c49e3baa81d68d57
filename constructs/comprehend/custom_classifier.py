"""An Amazon Comprehend custom classifier trained from S3 inside a VPC, served by an endpoint or a flywheel.

- **Training data**: a folder of labelled documents in the repo (``COMPREHEND_CSV``: label, text), checked at
  synth and copied under ``training/`` of an encrypted bucket on deploy.
- **Classifier** (``AWS::Comprehend::DocumentClassifier``, multi-class): CloudFormation trains it while it
  deploys the stack, in the VPC's isolated subnets (S3 through the gateway endpoint only), with the training
  volume (and, unless an endpoint serves it, the model) encrypted with the stack's key; a version per change
  of the data or language.
- **Serving**: a real-time endpoint (``AWS::Comprehend::DocumentClassifierEndpoint``, billed per inference unit
  and second), a flywheel (``AWS::Comprehend::Flywheel``, its data lake under ``datalake/``), or
  none (asynchronous classification jobs).
"""

from __future__ import annotations

import csv
import hashlib
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
from mlblueprints.constructs.security.private_network import grant_vpc_network_interfaces, open_within_itself

__all__ = [
    "READ_PREFIXES",
    "SERVING",
    "TRAINING",
    "WRITE_PREFIXES",
    "ComprehendError",
    "CustomClassifier",
    "training_problems",
    "training_version",
]

TRAINING = Path(__file__).parent / "training"
SERVING = ("endpoint", "flywheel", "none")
# What Comprehend reads and writes in the data bucket: the training data, documents to classify in jobs (input/),
# datasets a flywheel ingests (datasets/), the flywheel's data lake, and an entity recognizer's data (entities/);
# results go to output/.
READ_PREFIXES = ("training/", "input/", "datasets/", "datalake/", "entities/")
WRITE_PREFIXES = ("output/", "datalake/")
# The guide's pages disagree: "Preparing classifier training data" asks for 10 documents per class, the quotas
# table ("Guidelines and quotas", multi-class mode) for 50. The larger is asked, so a training never fails on it.
MIN_DOCUMENTS_PER_LABEL = 50
# An endpoint takes 1 to 10 inference units (Amazon Comprehend Developer Guide, Guidelines and quotas).
MAX_INFERENCE_UNITS = 10


def training_version(folder: Path, language_code: str) -> str:
    """A version name that changes with the training files and the language: ``v-<12 hex digits>``."""
    digest = hashlib.sha256(language_code.encode())
    for path in sorted(folder.glob("*.csv")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"v-{digest.hexdigest()[:12]}"


class ComprehendError(MlBlueprintsError):
    """Classifier settings Comprehend would refuse."""


def training_problems(folder: Path) -> list[Problem]:
    """The training folder's CSV files: two columns (label, text), at least two labels, ten documents each."""
    if not folder.is_dir():
        return [Problem(f"training data: {folder} is not a folder.", setting="training_data")]
    files = sorted(folder.glob("*.csv"))
    if not files:
        return [Problem(f"training data: {folder} has no .csv file.", setting="training_data")]
    problems = []
    # Comprehend trains on every object under the prefix, and the whole folder is copied there.
    others = sorted(p.name for p in folder.iterdir() if p not in files)
    if others:
        problems.append(Problem(f"training data: {folder} holds {others}; Comprehend would train on every file "
                                "copied, so keep only the .csv files there.", setting="training_data"))  # fmt: skip
    labels: Counter[str] = Counter()
    for path in files:
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            problems.append(Problem(f"training data {path.name}: starts with a byte-order mark, which Comprehend "
                                    "would read as part of the first label; save it as UTF-8 without one.",
                                    setting="training_data"))  # fmt: skip
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(f"training data {path.name}: not UTF-8.", setting="training_data"))
            continue
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        for number, row in enumerate(rows, start=1):
            if not row:
                continue
            if any("\n" in cell or "\r" in cell for cell in row):
                # "Each row must end with \n or \r\n" (Preparing classifier training data, multi-class mode).
                problems.append(Problem(f"training data {path.name}, row {number}: a document spans lines; put "
                                        "each document on one line.", setting="training_data"))  # fmt: skip
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
        if serving == "endpoint" and not 1 <= inference_units <= MAX_INFERENCE_UNITS:
            problems.append(Problem(f"inference_units {inference_units}: an endpoint takes 1 to {MAX_INFERENCE_UNITS}.",
                                    setting="inference_units", value=inference_units))  # fmt: skip
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
        # "Allow inbound connections between members of the same security group" for distributed training
        # (Amazon Comprehend Developer Guide, Protect jobs by using an Amazon VPC).
        open_within_itself(
            self.security_group,
            description="Comprehend training nodes",
            reason="Comprehend's distributed training runs across the nodes it places in this group",
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
        readable = [bucket.arn_for_objects(f"{prefix}*") for prefix in READ_PREFIXES]
        writable = [bucket.arn_for_objects(f"{prefix}*") for prefix in WRITE_PREFIXES]
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=readable))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=writable))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": sorted({f"{p}*" for p in READ_PREFIXES + WRITE_PREFIXES})}
                },
            )
        )
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
        self.vpc_config = vpc_config = {
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
            # A real-time endpoint cannot serve a model under a customer managed key from CloudFormation: such a
            # model needs CreateEndpoint's DataAccessRoleArn, which AWS::Comprehend::DocumentClassifierEndpoint
            # does not have. With an endpoint the model stays under Comprehend's key; training volume and output
            # stay under this one.
            model_kms_key_id=None if serving == "endpoint" else key_arn,
            volume_kms_key_id=key_arn,
            # A new version for each change of the data or settings: the classifier's properties are create-only,
            # so CloudFormation trains a new version and moves the endpoint or flywheel to it in place.
            version_name=training_version(Path(training_folder), language_code),
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
