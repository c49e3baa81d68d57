"""Blueprint: the documentation site, served privately through CloudFront with origin access control."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront

from constructs import Construct
from mlblueprints.blueprints.docs_site.settings import DocsSiteSettings
from mlblueprints.constructs.hosting.private_site import PrivateSite
from mlblueprints.constructs.security.baseline import SecurityBaseline

__all__ = ["DocsSiteStack"]

PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


class DocsSiteStack(Stack):
    """The stack's key, and the private site: bucket, distribution, web ACL, logs and the copied files."""

    def __init__(
        self, scope: Construct, id: str, *, settings: DocsSiteSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description or "mlblueprints docs-site: private CloudFront site",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.site = PrivateSite(
            self,
            "Site",
            folder=Path(settings.site_folder),
            allowed_cidrs=settings.allowed_cidrs,
            encryption_key=key,
            removal_policy=removal_policy,
            domain_name=settings.domain_name,
            certificate_arn=settings.certificate_arn,
            **({"price_class": PRICE_CLASSES[settings.price_class]} if settings.price_class else {}),
        )
        CfnOutput(self, "SiteUrl", value=f"https://{settings.domain_name}/" if settings.domain_name else self.site.url,
                  description="Open it from one of the allowed networks")  # fmt: skip
        CfnOutput(self, "DistributionDomainName", value=self.site.distribution.distribution_domain_name,
                  description="Point domain_name's DNS record (CNAME or Route 53 alias) here")  # fmt: skip
        CfnOutput(self, "ContentBucket", value=self.site.content.bucket_name,
                  description="Private: only the distribution reads it; cdk deploy copies the site")  # fmt: skip
