"""Blueprint: an Amazon Kendra index over an encrypted documents bucket, synchronised on a schedule, with an FAQ."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.enterprise_search.settings import KENDRA_RESOURCE_TYPES, EnterpriseSearchSettings
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.kendra.search_index import SearchIndex
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["EnterpriseSearchStack"]


class EnterpriseSearchStack(Stack):
    """The documents bucket, the index, its S3 data source and its FAQ."""

    def __init__(
        self, scope: Construct, id: str, *, settings: EnterpriseSearchSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints enterprise search: Amazon Kendra ({settings.edition})",
        )
        assert_services_at_deploy(self, "kendra", what="Amazon Kendra")
        assert_resource_types_at_deploy(self, *KENDRA_RESOURCE_TYPES, what="Amazon Kendra")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.documents = SecureBucket(self, "Documents", encryption_key=key, removal_policy=removal_policy)
        self.index = SearchIndex(
            self,
            "Index",
            encryption_key=key,
            edition=settings.edition,
            query_capacity_units=settings.query_capacity_units,
            storage_capacity_units=settings.storage_capacity_units,
            description=f"Documents of s3://{self.documents.bucket_name}",
        )
        self.source = self.index.add_s3_source(
            "Documents",
            bucket=self.documents.bucket,
            schedule=settings.sync_schedule,
            inclusion_prefixes=settings.inclusion_prefixes,
        )
        self.faq = (
            self.index.add_faq("Faq", file=settings.faq_path, file_format=settings.faq_format)
            if settings.faq
            else None
        )
        CfnOutput(self, "IndexId", value=self.index.index_id, description="aws kendra query --index-id ...")
        CfnOutput(
            self,
            "DocumentBucket",
            value=self.documents.bucket_name,
            description="Put documents to index here",
        )
        CfnOutput(
            self,
            "DataSourceId",
            value=self.source.attr_id,
            description="aws kendra start-data-source-sync-job --id ... to sync now",
        )
