"""Settings of the ``docs-site`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings, documented_default
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.hosting.private_site import SITE_REGION, PrivateSite, site_problems

__all__ = ["DocsSiteSettings"]


class DocsSiteSettings(BlueprintSettings):
    """The catalog's documentation site (or any built static site), served privately through CloudFront."""

    blueprint_name: ClassVar[str] = "docs-site"

    allowed_cidrs: list[str] = Field(
        description="The networks that may open the site, as a list of public IPv4 or IPv6 CIDR blocks (your offices' "
        'or VPN\'s egress), e.g. ["203.0.113.0/24"]; WAF answers everyone else with 403.',
    )
    site_folder: str = Field(
        "site",
        description="The built site to serve, with an index.html (make docs builds the catalog's into site/).",
    )
    domain_name: str | None = Field(
        None,
        description="Serve the site on this name (with certificate_arn); point its DNS at the distribution.",
    )
    certificate_arn: str | None = Field(
        None,
        description="The ACM certificate for domain_name, in us-east-1 where CloudFront reads certificates.",
    )
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] | None = Field(
        None,
        description="The CloudFront edge locations that serve it: PriceClass_100, PriceClass_200 or PriceClass_All.",
        json_schema_extra=documented_default(PrivateSite, "price_class"),
    )
    retain_data: bool = Field(
        True, description="Keep the bucket, the KMS key and the log groups when the stack is deleted."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return frozenset({SITE_REGION})

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = []
        if region is not None and region != SITE_REGION:
            problems.append(
                Problem(f"region {region}: CloudFront's web ACLs and log delivery are created in {SITE_REGION}, so "
                        f"this stack deploys there (the site is served worldwide all the same): deploy to one of "
                        f'{SITE_REGION}, with "env": {{"region": "{SITE_REGION}"}} in the stack entry or '
                        f"AWS_REGION={SITE_REGION}.", setting="env", value=region)
            )  # fmt: skip
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        return problems + site_problems(
            folder=Path(settings.site_folder), allowed_cidrs=settings.allowed_cidrs,
            domain_name=settings.domain_name, certificate_arn=settings.certificate_arn,
        )  # fmt: skip
