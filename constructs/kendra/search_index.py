"""An Amazon Kendra index over documents in S3, synchronised on a schedule, with an FAQ from a file in the repo.

- **Index** (``AWS::Kendra::Index``): the edition, the stack's KMS key for everything Kendra stores, and
  extra query and storage capacity units on the Enterprise editions ("You can't add capacity to a
  Developer Edition index", Amazon Kendra Developer Guide, "Adjusting capacity").
- **S3 data source** (``AWS::Kendra::DataSource``, the upgraded S3 connector's template): Kendra crawls the
  documents bucket on a cron schedule (Kendra takes cron expressions only, not rate ones).
- **FAQ** (``AWS::Kendra::Faq``): question-answer pairs from a CSV or JSON file checked at synth, staged as
  an asset that the FAQ's role reads.
- **Roles**, one each, as the guide's "IAM roles for Amazon Kendra" gives them: the index writes its own
  metrics (namespace ``AWS/Kendra``) and logs (``/aws/kendra/*``); the data source reads the bucket and
  writes to this index; the FAQ reads its file.

Amazon Kendra is closed to new customers from July 30, 2026 (Amazon Kendra API Reference): accounts that
have not used it cannot create an index.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kendra as kendra
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from mlblueprints.constructs._private.names import unique_base_name
from mlblueprints.constructs._private.service_models import enum_values, service_model
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = [
    "FAQS",
    "KendraError",
    "SearchIndex",
    "faq_problems",
    "index_problems",
    "schedule_problems",
]

FAQS = Path(__file__).parent / "faqs"
# "You can add up to 100 extra capacity units" (botocore's CapacityUnitsConfiguration, both kinds).
MAX_EXTRA_UNITS = 100
# "Maximum size of 1 FAQ: 5 MB" (Amazon Kendra Developer Guide, Quotas).
FAQ_MAX_BYTES = 5_000_000
# GEN_AI_ENTERPRISE_EDITION is offered in these regions only (Amazon Kendra Developer Guide, Quotas).
GEN_AI_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"})
# EventBridge-style cron: six fields (minutes hours day-of-month month day-of-week year).
_CRON = re.compile(r"^cron\((\S+\s+){5}\S+\)$")


class KendraError(MlBlueprintsError):
    """Kendra settings the service would refuse."""


def index_problems(
    edition: str, *, query_capacity_units: int = 0, storage_capacity_units: int = 0, region: str | None = None
) -> list[Problem]:
    editions = enum_values("IndexEdition", service="kendra")
    if edition not in editions:
        return [Problem(f"edition {edition!r}: use {', '.join(editions)} (botocore's IndexEdition).",
                        setting="edition", value=edition)]  # fmt: skip
    problems = []
    for setting, units in (("query_capacity_units", query_capacity_units),
                           ("storage_capacity_units", storage_capacity_units)):  # fmt: skip
        if not 0 <= units <= MAX_EXTRA_UNITS:
            problems.append(
                Problem(f"{setting} {units}: 0 to {MAX_EXTRA_UNITS} extra units.", setting=setting)
            )
        elif units and edition == "DEVELOPER_EDITION":
            problems.append(
                Problem(f"{setting} {units}: a Developer Edition index takes no extra capacity; use an Enterprise "
                        "edition, or 0.", setting=setting, value=units)
            )  # fmt: skip
    if edition == "GEN_AI_ENTERPRISE_EDITION" and region and region not in GEN_AI_REGIONS:
        problems.append(
            Problem(f"edition GEN_AI_ENTERPRISE_EDITION is not offered in {region}; it is in "
                    f"{', '.join(sorted(GEN_AI_REGIONS))}.", setting="edition", value=edition)
        )  # fmt: skip
    return problems


def schedule_problems(schedule: str) -> list[Problem]:
    """Kendra syncs on a cron expression (``cron(0 3 * * ? *)``), or on demand with an empty one."""
    if schedule == "" or _CRON.match(schedule):
        return []
    return [
        Problem(f"sync_schedule {schedule!r}: a cron expression with six fields, such as 'cron(0 3 * * ? *)' (daily "
                "at 03:00 UTC); Kendra takes no rate() expressions. '' syncs on demand only.",
                setting="sync_schedule", value=schedule)
    ]  # fmt: skip


def prefix_problems(prefixes: Sequence[str]) -> list[Problem]:
    """The API's limits on inclusion prefixes (botocore's DataSourceInclusionsExclusionsStrings)."""
    model = service_model("kendra")
    most = model.shape("DataSourceInclusionsExclusionsStrings")["max"]
    length = model.shape("DataSourceInclusionsExclusionsStringsMember")
    problems = []
    if len(prefixes) > most:
        problems.append(
            Problem(f"{len(prefixes)} inclusion_prefixes: at most {most}.", setting="inclusion_prefixes")
        )
    for prefix in prefixes:
        if not length["min"] <= len(prefix) <= length["max"]:
            problems.append(
                Problem(f"inclusion prefix {prefix!r}: {length['min']} to {length['max']} characters.",
                        setting="inclusion_prefixes", value=prefix)
            )  # fmt: skip
    return problems


def faq_problems(path: Path, file_format: str) -> list[Problem]:
    """What Kendra would refuse in an FAQ file ("Creating an FAQ", Amazon Kendra Developer Guide)."""
    formats = enum_values("FaqFileFormat", service="kendra")
    where = f"FAQ {path}"
    if file_format not in formats:
        return [Problem(f"faq_format {file_format!r}: use {', '.join(formats)}.", setting="faq_format")]
    if not path.is_file():
        return [Problem(f"{where}: no such file.", setting="faq_file", value=str(path))]
    raw = path.read_bytes()
    if len(raw) > FAQ_MAX_BYTES:
        return [Problem(f"{where}: {len(raw)} bytes; an FAQ file is 5 MB at most.", setting="faq_file")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Problem(f"{where}: not UTF-8 text.", setting="faq_file")]
    if file_format == "JSON":
        return _json_faq_problems(where, text)
    rows = list(csv.reader(io.StringIO(text)))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    problems = []
    if file_format == "CSV_WITH_HEADER":
        if not rows or not {"_question", "_answer"} <= set(rows[0]):
            return [Problem(f"{where}: the header row needs _question and _answer columns (CSV_WITH_HEADER).",
                            setting="faq_file")]  # fmt: skip
        header, rows = rows[0], rows[1:]
        question, answer = header.index("_question"), header.index("_answer")
        width = len(header)
    else:
        question, answer, width = 0, 1, None
    if not rows:
        problems.append(Problem(f"{where}: no question-answer pairs.", setting="faq_file"))
    for number, row in enumerate(rows, start=2 if file_format == "CSV_WITH_HEADER" else 1):
        if width is not None and len(row) != width:
            problems.append(
                Problem(
                    f"{where}, row {number}: {len(row)} fields; the header has {width}.", setting="faq_file"
                )
            )
        elif width is None and len(row) not in (2, 3):
            problems.append(
                Problem(f"{where}, row {number}: {len(row)} fields; a CSV FAQ row is question, answer and an optional "
                        "URL (or use CSV_WITH_HEADER).", setting="faq_file")
            )  # fmt: skip
        elif not row[question].strip() or not row[answer].strip():
            problems.append(
                Problem(
                    f"{where}, row {number}: a question and its answer are both needed.", setting="faq_file"
                )
            )
    return problems


def _json_faq_problems(where: str, text: str) -> list[Problem]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return [Problem(f"{where}: not JSON ({error.msg}, line {error.lineno}).", setting="faq_file")]
    entries = document.get("FaqDocuments") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries or document.get("SchemaVersion") != 1:
        return [Problem(f'{where}: a JSON FAQ is {{"SchemaVersion": 1, "FaqDocuments": [{{"Question": ..., '
                        '"Answer": ...}, ...]}.', setting="faq_file")]  # fmt: skip
    return [
        Problem(f"{where}: FaqDocuments[{i}] needs a Question and an Answer.", setting="faq_file")
        for i, entry in enumerate(entries)
        if not isinstance(entry, dict)
        or not str(entry.get("Question", "")).strip()
        or not str(entry.get("Answer", "")).strip()
    ]


def _kendra_principal() -> iam.ServicePrincipal:
    """Kendra of this account and region only ("It is recommended that you include aws:sourceAccount and
    aws:sourceArn in the trust policy", IAM roles for Amazon Kendra)."""
    return iam.ServicePrincipal(
        "kendra.amazonaws.com",
        conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:kendra:{Aws.REGION}:{Aws.ACCOUNT_ID}:index/*"},
        },
    )


def allow_kendra(key: kms.IKey) -> None:
    """Let Kendra use ``key`` for this account's indexes: "When you use a customer-managed KMS key, you must give
    the key a key policy that allows Amazon Kendra to use the key" (Encryption at rest, Amazon Kendra
    Developer Guide). A key imported into the stack must already allow it."""
    added = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowKendraIndexes",
            principals=[iam.ServicePrincipal("kendra.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:CreateGrant",
                "kms:RetireGrant",
            ],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{Aws.PARTITION}:kendra:{Aws.REGION}:{Aws.ACCOUNT_ID}:index/*"
                },
            },
        ),
        allow_no_op=True,
    ).statement_added
    if not added:
        raise KendraError(
            [Problem("the index's key is imported: its key policy must already let kendra.amazonaws.com use it "
                     "(Encryption at rest, Amazon Kendra Developer Guide); pass a key created in this stack instead.",
                     setting="encryption_key")]
        )  # fmt: skip


class SearchIndex(Construct):
    """A Kendra index encrypted with ``encryption_key``, with :meth:`add_s3_source` and :meth:`add_faq`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        edition: str = "DEVELOPER_EDITION",
        query_capacity_units: int = 0,
        storage_capacity_units: int = 0,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        problems = index_problems(
            edition,
            query_capacity_units=query_capacity_units,
            storage_capacity_units=storage_capacity_units,
            region=None if Token.is_unresolved(stack.region) else stack.region,
        )
        if problems:
            raise KendraError(problems)
        self.encryption_key = encryption_key
        allow_kendra(encryption_key)
        self.role = iam.Role(
            self,
            "IndexRole",
            assumed_by=_kendra_principal(),
            description="Kendra index: its own metrics and logs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "AWS/Kendra"}},
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]))
        log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/kendra/*"
        self.role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogGroup"], resources=[log_groups]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:DescribeLogStreams", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_groups}:log-stream:*"],
            )
        )
        acknowledge_inline_policy(self.role)
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="the index's metrics",
            reason="cloudwatch:PutMetricData and logs:DescribeLogGroups support no resource-level permissions; the "
            "metrics are limited to the AWS/Kendra namespace (IAM roles for Amazon Kendra, Developer Guide).",
        )
        for resource in (log_groups, f"{log_groups}:log-stream:*"):
            acknowledge_wildcard_resource(
                policy,
                resource,
                topic="the index's log group",
                reason="Kendra names its log group after the index's ID, known only once it exists; the role "
                "reaches /aws/kendra/ groups only.",
            )
        capacity = (
            kendra.CfnIndex.CapacityUnitsConfigurationProperty(
                query_capacity_units=query_capacity_units, storage_capacity_units=storage_capacity_units
            )
            if edition != "DEVELOPER_EDITION"
            else None
        )
        self.resource = kendra.CfnIndex(
            self,
            "Resource",
            name=unique_base_name(self, max_length=100),
            edition=edition,
            role_arn=self.role.role_arn,
            description=description,
            capacity_units=capacity,
            server_side_encryption_configuration=kendra.CfnIndex.ServerSideEncryptionConfigurationProperty(
                kms_key_id=encryption_key.key_arn
            ),
        )
        self.resource.node.add_dependency(self.role)
        self.index_id = self.resource.attr_id
        self.index_arn = self.resource.attr_arn

    def add_s3_source(
        self,
        id: str,
        *,
        bucket: s3.IBucket,
        schedule: str = "cron(0 3 * * ? *)",
        inclusion_prefixes: Sequence[str] = (),
    ) -> kendra.CfnDataSource:
        """Crawl ``bucket`` (its ``inclusion_prefixes``, or all of it) on ``schedule``."""
        problems = schedule_problems(schedule) + prefix_problems(inclusion_prefixes)
        if problems:
            raise KendraError(problems)
        role = iam.Role(
            self,
            f"{id}Role",
            assumed_by=_kendra_principal(),
            description="Kendra S3 data source: reads the documents bucket, writes to its index",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])
        )
        role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kendra:BatchPutDocument", "kendra:BatchDeleteDocument"], resources=[self.index_arn]
            )
        )
        self._allow_decrypt_through_s3(role)
        acknowledge_inline_policy(role)
        acknowledge_wildcard_resource(
            role.node.find_child("DefaultPolicy"),
            bucket.arn_for_objects("*"),
            topic="documents to index",
            reason="Kendra reads every document of the bucket it indexes (or of its inclusion prefixes); read only.",
        )
        # The upgraded S3 connector's template: "You must now use the TemplateConfiguration object instead of the
        # S3DataSourceConfiguration object" (S3DataSourceConfiguration, Amazon Kendra API Reference); its keys
        # are the guide's "Amazon S3 template schema" (required: connectionConfiguration, type, syncMode,
        # repositoryConfigurations), its one field mapping the AWS CLI's documented example.
        template = {
            "connectionConfiguration": {"repositoryEndpointMetadata": {"BucketName": bucket.bucket_name}},
            "repositoryConfigurations": {
                "document": {
                    "fieldMappings": [
                        {
                            "indexFieldName": "_document_title",
                            "indexFieldType": "STRING",
                            "dataSourceFieldName": "title",
                        }
                    ]
                }
            },
            **(
                {"additionalProperties": {"inclusionPrefixes": list(inclusion_prefixes)}}
                if inclusion_prefixes
                else {}
            ),
            "syncMode": "FULL_CRAWL",
            "type": "S3",
            "version": "1.0.0",
        }
        source = kendra.CfnDataSource(
            self,
            id,
            index_id=self.index_id,
            name=unique_base_name(self, max_length=100) + f"-{id}",
            type="TEMPLATE",
            role_arn=role.role_arn,
            schedule=schedule or None,
        )
        # CloudFormation types Template as a JSON object; aws-cdk-lib's L1 types it as a string.
        source.add_property_override(
            "DataSourceConfiguration", {"TemplateConfiguration": {"Template": template}}
        )
        source.node.add_dependency(role)
        return source

    def add_faq(self, id: str, *, file: Path, file_format: str = "CSV_WITH_HEADER") -> kendra.CfnFaq:
        """An FAQ from ``file`` (checked at synth, staged as an asset the FAQ's role reads)."""
        problems = faq_problems(Path(file), file_format)
        if problems:
            raise KendraError(problems)
        asset = s3_assets.Asset(self, f"{id}File", path=str(file))
        role = iam.Role(
            self,
            f"{id}Role",
            assumed_by=_kendra_principal(),
            description="Kendra FAQ: reads its file",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)]
            )
        )
        # The asset sits in the CDK bootstrap bucket, encrypted with its own (AWS managed) key, not this stack's.
        acknowledge_inline_policy(role)
        faq = kendra.CfnFaq(
            self,
            id,
            index_id=self.index_id,
            name=f"{id}-{asset.asset_hash[:16]}",
            role_arn=role.role_arn,
            file_format=file_format,
            s3_path=kendra.CfnFaq.S3PathProperty(bucket=asset.s3_bucket_name, key=asset.s3_object_key),
        )
        faq.node.add_dependency(role)
        return faq

    def _allow_decrypt_through_s3(self, role: iam.Role) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
            )
        )
