"""Amazon Personalize recommendations trained from interactions (and items) in S3, served by a campaign.

- **Data**: folders of CSV files in the repo (interactions: ``USER_ID,ITEM_ID,TIMESTAMP``; items:
  ``ITEM_ID,CATEGORY``), checked at synth against Personalize's minimums and copied under ``interactions/`` and
  ``items/`` of an encrypted bucket on deploy.
- **Dataset group** under the stack's KMS key, with its schemas and datasets; each dataset imports its
  folder when it is created, and again when the data changes (the import job's name carries a digest of it).
- **Solution** on a recipe. AWS trains solutions automatically ("By default, all new solutions use automatic
  training", AWS::Personalize::Solution): the first version starts within an hour of the solution becoming
  active, and a new one every 7 days. CloudFormation cannot train one itself.
- **Campaign** (``AWS::Personalize::Campaign``) on the solution's latest version, following new versions. It
  needs a trained version, so it is turned on by the second deploy, once the first version is active.
- **Event tracker** for real-time events (``PutEvents``) into the interactions dataset.

Personalize reads the bucket as its service principal: the bucket policy and the key policy allow it, as
"Giving Amazon Personalize access to Amazon S3 resources" and "Giving Amazon Personalize permission to use
your AWS KMS key" require.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.constructs._private.names import unique_name_with_stack_suffix
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_newer_resource_type,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.security.folder_deployment import deploy_folder

__all__ = [
    "INTERACTIONS_SCHEMA",
    "ITEMS_SCHEMA",
    "RECIPES",
    "SAMPLE",
    "PersonalizeError",
    "Recommender",
    "data_problems",
]

SAMPLE = Path(__file__).parent / "sample"
# The Avro schemas of the two datasets ("Interactions dataset requirements", "Items dataset requirements").
INTERACTIONS_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}],
}  # fmt: skip
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
    "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "CATEGORY", "type": "string", "categorical": True}],
}  # fmt: skip
# Recipes that train on interactions and serve from a campaign ("Choosing a recipe", Amazon Personalize
# Developer Guide); similar items also reads the items dataset. Recipe ARNs have no region or account.
RECIPES = {
    "aws-user-personalization-v2": "items for a user",
    "aws-user-personalization": "items for a user (v1)",
    "aws-similar-items": "items like an item",
    "aws-popularity-count": "the most popular items",
}
# "At least 1000 interaction records from users interacting with items", and "at least 25 unique user IDs
# with at least two interactions for each" (Interactions datasets, Amazon Personalize Developer Guide).
MIN_INTERACTIONS = 1000
MIN_USERS = 25
MAX_ID_LENGTH = 256
MAX_CATEGORY_LENGTH = 1000


class PersonalizeError(MlBlueprintsError):
    """Recommendation settings or data Personalize would refuse."""


def _csv_rows(folder: Path, header: list[str], setting: str, problems: list[Problem]) -> list[list[str]]:
    if not folder.is_dir():
        problems.append(Problem(f"{setting}: {folder} is not a folder.", setting=setting, value=str(folder)))
        return []
    files = sorted(folder.glob("*.csv"))
    if not files:
        problems.append(Problem(f"{setting}: {folder} has no .csv file.", setting=setting, value=str(folder)))
        return []
    others = sorted(p.name for p in folder.iterdir() if p not in files)
    if others:
        problems.append(Problem(f"{setting}: {folder} holds {others}; Personalize imports every file copied, so "
                                "keep only the .csv files there.", setting=setting))  # fmt: skip
    rows = []
    for path in files:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(f"{setting} {path.name}: not UTF-8.", setting=setting))
            continue
        found = list(csv.reader(io.StringIO(text)))
        # "The first row of your CSV file contains your column headers", the schema's field names.
        if not found or found[0] != header:
            problems.append(Problem(f"{setting} {path.name}: the first row is the header {','.join(header)}.",
                                    setting=setting))  # fmt: skip
            continue
        for number, row in enumerate(found[1:], start=2):
            if len(row) != len(header) or not all(cell.strip() for cell in row):
                problems.append(Problem(f"{setting} {path.name}, row {number}: {len(header)} values "
                                        f"({','.join(header)}).", setting=setting))  # fmt: skip
                continue
            rows.append(row)
    return rows


def data_problems(interactions: Path, items: Path | None) -> list[Problem]:
    """The data folders against the schemas and Personalize's minimums for training."""
    problems: list[Problem] = []
    rows = _csv_rows(interactions, ["USER_ID", "ITEM_ID", "TIMESTAMP"], "interactions_data", problems)
    for row in rows:
        # Unix time in seconds: ten digits until 2286; thirteen would be milliseconds.
        if not row[2].isdigit() or len(row[2]) > 10:
            problems.append(Problem(f"interactions_data: TIMESTAMP {row[2]!r} is not a Unix time in seconds.",
                                    setting="interactions_data"))  # fmt: skip
            break
    for row in rows:
        # USER_ID and ITEM_ID are strings of at most 256 characters (Interactions dataset requirements).
        if max(len(row[0]), len(row[1])) > MAX_ID_LENGTH:
            problems.append(Problem(f"interactions_data: an ID longer than {MAX_ID_LENGTH} characters.",
                                    setting="interactions_data"))  # fmt: skip
            break
    if rows or not problems:
        users = Counter(row[0] for row in rows)
        repeat_users = sum(1 for count in users.values() if count >= 2)
        if len(rows) < MIN_INTERACTIONS or repeat_users < MIN_USERS:
            problems.append(Problem(f"interactions_data: {len(rows)} interactions, {repeat_users} users with two or "
                                    f"more; Personalize trains on at least {MIN_INTERACTIONS} interactions and "
                                    f"{MIN_USERS} such users.", setting="interactions_data"))  # fmt: skip
    if items is not None:
        for row in _csv_rows(items, ["ITEM_ID", "CATEGORY"], "items_data", problems):
            # A categorical value has at most 1,000 characters (Items dataset requirements).
            if len(row[0]) > MAX_ID_LENGTH or len(row[1]) > MAX_CATEGORY_LENGTH:
                problems.append(Problem(f"items_data: ITEM_ID over {MAX_ID_LENGTH} or CATEGORY over "
                                        f"{MAX_CATEGORY_LENGTH} characters ({row[0][:40]!r}).", setting="items_data"))  # fmt: skip
                break
    return problems


def _digest(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:8]


def _folder_digest(folder: Path) -> str:
    return _digest(*(p.name.encode() + p.read_bytes() for p in sorted(folder.glob("*.csv"))))


class Recommender(Construct):
    """A dataset group with interactions (and items) from S3, a solution, an event tracker and a campaign."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        encryption_key: kms.IKey,
        interactions_folder: Path,
        items_folder: Path | None = None,
        recipe: str = "aws-user-personalization-v2",
        campaign: bool = False,
        min_provisioned_tps: int = 1,
        event_tracker: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = data_problems(Path(interactions_folder), Path(items_folder) if items_folder else None)
        if recipe not in RECIPES:
            problems.append(
                Problem(f"recipe {recipe!r}: use {', '.join(RECIPES)}.", setting="recipe", value=recipe)
            )
        if recipe == "aws-similar-items" and items_folder is None:
            problems.append(Problem("recipe aws-similar-items reads the items dataset: give items_data.",
                                    setting="recipe"))  # fmt: skip
        if min_provisioned_tps < 1:
            problems.append(Problem(f"min_provisioned_tps {min_provisioned_tps}: at least 1.",
                                    setting="min_provisioned_tps"))  # fmt: skip
        if problems:
            raise PersonalizeError(problems)
        # Names are at most 63 characters (botocore's Name shape); the longest suffix is "-interactions-<8 hex>".
        # The stack ID's first block is in each: retained resources never block the next deploy of the stack.
        base = unique_name_with_stack_suffix(self, max_length=63 - len("-interactions-") - 8)
        # Kept on deletion and update with retain_data, but rolled back with a failed first create.
        keep = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if removal_policy == RemovalPolicy.RETAIN
            else removal_policy
        )
        prefixes = ["interactions/"] + (["items/"] if items_folder else [])

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "personalize.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
            description="Amazon Personalize: import the data, use the dataset group's key",
        )
        objects = [bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=objects))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )
        # The role's share of "Giving Amazon Personalize permission to use your AWS KMS key" (CreateGrant is
        # the key policy's).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"],
                resources=[encryption_key.key_arn],
            )
        )
        # The role's grant, which AWS's page puts in the key policy, is given here instead: a key policy naming a
        # role created moments before can fail ("principals must exist and be visible to KMS"), and the key's
        # policy already lets IAM policies grant its use.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[encryption_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        acknowledge_inline_policy(self.role)
        for resource in objects:
            acknowledge_wildcard_resource(self.role.node.find_child("DefaultPolicy"), resource, topic="training data",
                                          reason="Personalize imports every file of the data prefix; read only.")  # fmt: skip
        # Personalize reads the bucket as its service principal, so the bucket policy must allow it.
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeReadsTheData",
                principals=[iam.ServicePrincipal("personalize.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=objects,
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeListsTheData",
                principals=[iam.ServicePrincipal("personalize.amazonaws.com")],
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeUsesTheKey",
                principals=[iam.ServicePrincipal("personalize.amazonaws.com")],
                actions=[
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                    "kms:ListGrants",
                ],
                resources=["*"],
            )
        )

        deployments = [
            deploy_folder(self, "InteractionsData", folder=Path(interactions_folder), bucket=bucket,
                          prefix="interactions/", encryption_key=encryption_key, removal_policy=removal_policy,
                          purpose="personalize", what="the interactions")
        ]  # fmt: skip
        if items_folder:
            deployments.append(
                deploy_folder(self, "ItemsData", folder=Path(items_folder), bucket=bucket, prefix="items/",
                              encryption_key=encryption_key, removal_policy=removal_policy, purpose="personalize",
                              what="the items")
            )  # fmt: skip

        self.dataset_group = personalize.CfnDatasetGroup(
            self,
            "DatasetGroup",
            name=f"{base}-group",
            kms_key_arn=encryption_key.key_arn,
            role_arn=self.role.role_arn,
        )
        self.dataset_group.node.add_dependency(self.role)
        group_arn = self.dataset_group.attr_dataset_group_arn
        self.datasets = {}
        for kind, schema, folder, prefix in (
            ("Interactions", INTERACTIONS_SCHEMA, Path(interactions_folder), "interactions/"),
            *((("Items", ITEMS_SCHEMA, Path(items_folder), "items/"),) if items_folder else ()),
        ):
            text = json.dumps(schema, separators=(",", ":"))
            # Names carry a digest of what their create-only properties hold: a change is a new name, not a clash.
            schema_resource = personalize.CfnSchema(self, f"{kind}Schema", name=f"{base}-{kind.lower()}-{_digest(text)}",
                                                    schema=text)  # fmt: skip
            dataset = personalize.CfnDataset(
                self,
                f"{kind}Dataset",
                name=f"{base}-{kind.lower()}-{_digest(text)}",
                dataset_type=kind,
                dataset_group_arn=group_arn,
                schema_arn=schema_resource.attr_schema_arn,
                dataset_import_job=personalize.CfnDataset.DatasetImportJobProperty(
                    job_name=f"{base}-{kind.lower()}-{_folder_digest(folder)}",
                    data_source={"DataLocation": f"s3://{bucket.bucket_name}/{prefix}"},
                    role_arn=self.role.role_arn,
                ),
            )
            # Imported once the data is copied and Personalize may read it.
            dataset.node.add_dependency(*deployments, self.role, bucket.policy)
            for resource in (schema_resource, dataset):
                resource.apply_removal_policy(keep)
            self.datasets[kind] = dataset
        self.dataset_group.apply_removal_policy(keep)

        recipe_arn = f"arn:{Aws.PARTITION}:personalize:::recipe/{recipe}"
        self.solution = personalize.CfnSolution(
            self,
            "Solution",
            name=f"{base}-{_digest(recipe)}",
            dataset_group_arn=group_arn,
            recipe_arn=recipe_arn,
        )
        # Trained (automatically) on the imported data.
        self.solution.node.add_dependency(*self.datasets.values())
        self.event_tracker = None
        if event_tracker:
            self.event_tracker = personalize.CfnEventTracker(
                self, "EventTracker", name=f"{base}-events", dataset_group_arn=group_arn
            )
            self.event_tracker.node.add_dependency(self.datasets["Interactions"])
            self.event_tracker.apply_removal_policy(keep)
        self.campaign = None
        if campaign:
            self.campaign = personalize.CfnCampaign(
                self,
                "Campaign",
                name=f"{base}-campaign",
                solution_version_arn=f"{self.solution.attr_solution_arn}/$LATEST",
                min_provisioned_tps=min_provisioned_tps,
                campaign_config=personalize.CfnCampaign.CampaignConfigProperty(
                    sync_with_latest_solution_version=True
                ),
            )
            # CloudFormation added the type after the schema CDK validates against (cfn-lint knows it).
            acknowledge_newer_resource_type(self.campaign)
