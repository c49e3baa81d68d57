"""Settings of the ``enterprise-search`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.compute.regional_offerings import (
    resource_type_problems,
    resource_type_regions,
    service_region_problems,
    service_regions,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.kendra.search_index import (
    FAQS,
    faq_problems,
    index_problems,
    prefix_problems,
    schedule_problems,
)

__all__ = ["KENDRA_RESOURCE_TYPES", "EnterpriseSearchSettings"]

KENDRA_RESOURCE_TYPES = ("AWS::Kendra::Index", "AWS::Kendra::DataSource", "AWS::Kendra::Faq")


class EnterpriseSearchSettings(BlueprintSettings):
    """An Amazon Kendra index over documents in S3, synchronised on a schedule, with an FAQ."""

    blueprint_name: ClassVar[str] = "enterprise-search"

    edition: str = Field(
        "DEVELOPER_EDITION",
        description="DEVELOPER_EDITION (trials: 10,000 documents, no extra capacity), ENTERPRISE_EDITION or "
        "GEN_AI_ENTERPRISE_EDITION.",
    )
    query_capacity_units: int = Field(
        0, description="Enterprise editions: extra query units (each about 0.1 queries per second), 0 to 100."
    )
    storage_capacity_units: int = Field(0, description="Enterprise editions: extra storage units, 0 to 100.")
    sync_schedule: str = Field(
        "cron(0 3 * * ? *)",
        description="When Kendra syncs the documents bucket (cron, UTC); '' for on demand.",
    )
    inclusion_prefixes: list[str] = Field(
        [], description="Index only these prefixes of the bucket. Default: all."
    )
    faq_file: str | None = Field(
        None, description="An FAQ file (path). Default: the catalog's IT help-desk sample."
    )
    faq_format: str = Field(
        "CSV_WITH_HEADER", description="CSV, CSV_WITH_HEADER (_question, _answer, ...) or JSON."
    )
    faq: bool = Field(True, description="Add the FAQ to the index.")
    retain_data: bool = Field(
        True,
        description="Keep the documents bucket and the KMS key when the stack is deleted; false deletes them.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @property
    def faq_path(self) -> Path:
        return Path(self.faq_file) if self.faq_file else FAQS / "it-helpdesk.csv"

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions("kendra") & resource_type_regions(*KENDRA_RESOURCE_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "kendra", what="Amazon Kendra")
        if not problems:
            problems += resource_type_problems(
                region, *KENDRA_RESOURCE_TYPES, what="Amazon Kendra", setting="env"
            )
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += index_problems(
            settings.edition,
            query_capacity_units=settings.query_capacity_units,
            storage_capacity_units=settings.storage_capacity_units,
            region=region,
        )
        problems += schedule_problems(settings.sync_schedule) + prefix_problems(settings.inclusion_prefixes)
        if settings.faq:
            problems += faq_problems(settings.faq_path, settings.faq_format)
        elif settings.faq_file:
            problems.append(
                Problem("faq_file is set but faq is false: set one or the other.", setting="faq_file")
            )
        return problems
