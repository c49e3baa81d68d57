"""Settings document the constructs' defaults without restating them."""

from __future__ import annotations

import pytest

from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs.sagemaker.endpoint import RealtimeEndpoint
from mlblueprints.constructs.sagemaker.scaling import EndpointAutoScaling


def test_defaults_are_read_from_the_constructs():
    assert construct_default(RealtimeEndpoint, "initial_instance_count")["default"] == 2
    assert documented_default(EndpointAutoScaling, "max_capacity")["x-default"] == "twice min_capacity"
    with pytest.raises(TypeError, match="documents no default for target"):
        documented_default(EndpointAutoScaling, "target")
    with pytest.raises(TypeError, match="has no default to document"):
        construct_default(RealtimeEndpoint, "instance_type")


def test_unset_settings_leave_the_construct_default_in_charge():
    settings = RealtimeEndpointSettings.parse(
        "S",
        {
            "instance_type": "ml.g5.xlarge",
            "dlc_repository": "pytorch-inference",
            "dlc_tag": "2.6.0-gpu-py312",
        },
    )
    assert settings.initial_instance_count is None
    assert settings.explicit("initial_instance_count", "environment") == {}
