"""Blueprint: a real-time SageMaker endpoint in a private VPC, ready for ``cdk deploy``.

Composes the catalog's constructs: the security baseline (a rotating KMS key and a private VPC with
the endpoints SageMaker needs) and a :class:`RealtimeEndpoint` with auto scaling, alarms and safe
updates. Configured by :class:`RealtimeEndpointSettings`, which the catalog app reads from a JSON
file or CDK context.
"""

from __future__ import annotations

from typing import Any

from mlblueprints.blueprints.instance_endpoint import InstanceEndpointStack
from mlblueprints.blueprints.model_settings import SMOKE_TEST_MODEL
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.blueprints.settings_base import construct_default
from mlblueprints.constructs.sagemaker.endpoint import EndpointAutoScaling, RealtimeEndpoint

__all__ = ["SMOKE_TEST_MODEL", "RealtimeEndpointSettings", "RealtimeEndpointStack"]


class RealtimeEndpointStack(InstanceEndpointStack):
    """A real-time endpoint and everything it needs, deployable as one stack."""

    kind = "real-time"
    multi_model = False

    def create_endpoint(self, settings: RealtimeEndpointSettings, **props: Any) -> RealtimeEndpoint:
        auto_scaling = (
            EndpointAutoScaling(
                **settings.explicit("min_capacity", "max_capacity", "target_invocations_per_instance")
            )
            if settings.auto_scaling
            else None
        )
        count = (
            settings.initial_instance_count
            or construct_default(RealtimeEndpoint, "initial_instance_count")["default"]
        )
        return RealtimeEndpoint(
            self,
            "Endpoint",
            auto_scaling=auto_scaling,
            deployment=self.update_policy(auto_scaling.capacities(count)[0] if auto_scaling else count),
            multi_model=self.multi_model,
            **props,
        )
