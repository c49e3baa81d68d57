"""Blueprint: Amazon Personalize recommendations from interactions and items in S3."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.recommendations.settings import RecommendationsSettings
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.personalize.recommender import Recommender
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["RecommendationsStack"]


class RecommendationsStack(Stack):
    """The data bucket, the dataset group, its datasets, the solution, the event tracker and the campaign."""

    def __init__(
        self, scope: Construct, id: str, *, settings: RecommendationsSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints recommendations: Amazon Personalize ({settings.recipe})",
        )
        assert_services_at_deploy(self, "personalize", what="Amazon Personalize")
        assert_resource_types_at_deploy(
            self, *settings.resource_types(), what="The recommendations blueprint"
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.data = SecureBucket(self, "Data", encryption_key=key, removal_policy=removal_policy)
        self.recommender = Recommender(
            self,
            "Recommender",
            bucket=self.data.bucket,
            encryption_key=key,
            interactions_folder=settings.interactions_folder,
            items_folder=settings.items_folder,
            recipe=settings.recipe,
            campaign=settings.campaign,
            min_provisioned_tps=settings.min_provisioned_tps,
            event_tracker=settings.event_tracker,
            removal_policy=removal_policy,
        )
        CfnOutput(self, "DataBucket", value=self.data.bucket_name, description="interactions/ and items/")
        CfnOutput(self, "SolutionArn", value=self.recommender.solution.attr_solution_arn,
                  description="aws personalize list-solution-versions --solution-arn ... (trained automatically)")  # fmt: skip
        if self.recommender.event_tracker is not None:
            CfnOutput(self, "TrackingId", value=self.recommender.event_tracker.attr_tracking_id,
                      description="aws personalize-events put-events --tracking-id ...")  # fmt: skip
        if self.recommender.campaign is not None:
            CfnOutput(self, "CampaignArn", value=self.recommender.campaign.attr_campaign_arn,
                      description="aws personalize-runtime get-recommendations --campaign-arn ... --user-id ...")  # fmt: skip
