"""Blueprint: a multi-model SageMaker endpoint, ready for ``cdk deploy``.

The real-time blueprint with ``Mode: MultiModel``: every ``model.tar.gz`` under the configured S3
prefix is served by one fleet, loaded on its first request (``TargetModel``) and unloaded when idle.
"""

from __future__ import annotations

from mlblueprints.blueprints.multi_model_endpoint.settings import MultiModelEndpointSettings
from mlblueprints.blueprints.realtime_endpoint.stack import RealtimeEndpointStack

__all__ = ["MultiModelEndpointSettings", "MultiModelEndpointStack"]


class MultiModelEndpointStack(RealtimeEndpointStack):
    """A multi-model endpoint and everything it needs, deployable as one stack."""

    kind = "multi-model"
    multi_model = True
