"""Settings of the ``recommendations`` blueprint, as a config file or CDK context gives them."""

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
from mlblueprints.constructs.personalize.recommender import RECIPES, SAMPLE, data_problems

__all__ = ["PERSONALIZE_TYPES", "RecommendationsSettings"]

PERSONALIZE_TYPES = (
    "AWS::Personalize::DatasetGroup",
    "AWS::Personalize::Schema",
    "AWS::Personalize::Dataset",
    "AWS::Personalize::Solution",
    "AWS::Personalize::EventTracker",
    "AWS::Personalize::Campaign",
)


class RecommendationsSettings(BlueprintSettings):
    """Amazon Personalize trained from interactions and items in S3, with an event tracker and a campaign."""

    blueprint_name: ClassVar[str] = "recommendations"

    interactions_data: str | None = Field(
        None,
        description="A folder of CSV files USER_ID,ITEM_ID,TIMESTAMP (at least 1000 rows, 25 users with two or "
        "more). Default: the catalog's sample shop.",
    )
    items_data: str | None = Field(
        None, description="A folder of CSV files ITEM_ID,CATEGORY. Default: the sample's items."
    )
    items: bool = Field(True, description="Import an items dataset (items_data).")
    recipe: str = Field(
        "aws-user-personalization-v2", description=f"The Personalize recipe: {', '.join(RECIPES)}."
    )
    campaign: bool = Field(
        False,
        description="Serve the solution's latest version from a campaign. Turn it on once the first version is "
        "active (aws personalize list-solution-versions): a campaign needs a trained version.",
    )
    min_provisioned_tps: int = Field(
        1, description="With a campaign: the transactions per second it is billed for at least."
    )
    event_tracker: bool = Field(True, description="An event tracker for real-time events (PutEvents).")
    retain_data: bool = Field(
        True,
        description="Keep the bucket, the KMS key, the dataset group and its datasets when the stack is deleted.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @property
    def interactions_folder(self) -> Path:
        return Path(self.interactions_data) if self.interactions_data else SAMPLE / "interactions"

    @property
    def items_folder(self) -> Path | None:
        if not self.items:
            return None
        return Path(self.items_data) if self.items_data else SAMPLE / "items"

    def resource_types(self) -> tuple[str, ...]:
        return tuple(t for t in PERSONALIZE_TYPES if (t != "AWS::Personalize::Campaign" or self.campaign)
                     and (t != "AWS::Personalize::EventTracker" or self.event_tracker))  # fmt: skip

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        """Where every resource the blueprint can make deploys."""
        return service_regions("personalize") & resource_type_regions(*PERSONALIZE_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "personalize", what="Amazon Personalize")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        if not problems:
            problems += resource_type_problems(
                region, *settings.resource_types(), what="The recommendations blueprint", setting="env"
            )
        problems += data_problems(settings.interactions_folder, settings.items_folder)
        if settings.recipe not in RECIPES:
            problems.append(Problem(f"recipe {settings.recipe!r}: use {', '.join(RECIPES)}.", setting="recipe",
                                    value=settings.recipe))  # fmt: skip
        if settings.recipe == "aws-similar-items" and settings.items_folder is None:
            problems.append(Problem("recipe aws-similar-items reads the items dataset: set items true.",
                                    setting="recipe"))  # fmt: skip
        if settings.min_provisioned_tps < 1:
            problems.append(Problem(f"min_provisioned_tps {settings.min_provisioned_tps}: at least 1.",
                                    setting="min_provisioned_tps"))  # fmt: skip
        return problems
