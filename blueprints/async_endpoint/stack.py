"""Blueprint: a SageMaker asynchronous endpoint that scales to zero, ready for ``cdk deploy``.

The instance-backed endpoint of the real-time blueprint (same model settings, private VPC, key,
alarms and safe updates) with a queue: clients put inputs under ``async-input/`` of the output
bucket and call ``InvokeEndpointAsync``; results land under ``async-output/`` and failures under
``async-failures/``, each announced on an encrypted SNS topic. The fleet follows the backlog down
to zero instances and wakes on the first queued request.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput

from mlblueprints.blueprints.async_endpoint.settings import AsyncEndpointSettings
from mlblueprints.blueprints.instance_endpoint import InstanceEndpointStack
from mlblueprints.blueprints.settings_base import construct_default
from mlblueprints.constructs.sagemaker.async_inference import AsyncInference, BacklogScaling
from mlblueprints.constructs.sagemaker.endpoint import (
    ASYNC_FAILURE_PREFIX,
    ASYNC_INPUT_PREFIX,
    ASYNC_OUTPUT_PREFIX,
    AsyncEndpoint,
)

__all__ = ["AsyncEndpointSettings", "AsyncEndpointStack"]


class AsyncEndpointStack(InstanceEndpointStack):
    """An asynchronous endpoint, its output bucket and topics, and everything else it needs."""

    kind = "asynchronous"

    def create_endpoint(self, settings: AsyncEndpointSettings, **props: Any) -> AsyncEndpoint:
        auto_scaling = (
            BacklogScaling(**settings.explicit("min_capacity", "max_capacity", "target_backlog_per_instance"))
            if settings.auto_scaling
            else None
        )
        count = (
            settings.initial_instance_count
            or construct_default(AsyncEndpoint, "initial_instance_count")["default"]
        )
        endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            async_inference=AsyncInference(
                include_response_in_notifications=settings.include_response_in_notifications,
                **settings.explicit("max_concurrent_invocations_per_instance", "oldest_request_age_s"),
            ),
            auto_scaling=auto_scaling,
            deployment=self.update_policy(auto_scaling.capacities(count)[0] if auto_scaling else count),
            **props,
        )
        if self.network is not None:
            # The instances fetch inputs and upload results through the VPC's S3 gateway.
            bucket = endpoint.output_bucket
            self.network.allow_s3_objects(bucket.arn_for_objects(f"{ASYNC_INPUT_PREFIX}*"))
            self.network.allow_s3_objects(
                bucket.arn_for_objects(f"{ASYNC_OUTPUT_PREFIX}*"),
                bucket.arn_for_objects(f"{ASYNC_FAILURE_PREFIX}*"),
                actions=("s3:PutObject", "s3:AbortMultipartUpload"),
            )
        return endpoint

    def add_outputs(self) -> None:
        endpoint = self.endpoint
        CfnOutput(
            self,
            "InputLocation",
            value=endpoint.output_bucket.s3_url_for_object(ASYNC_INPUT_PREFIX),
            description="Put request payloads here and pass their S3 URI as InputLocation to InvokeEndpointAsync",
        )
        CfnOutput(
            self,
            "OutputLocation",
            value=endpoint.output_bucket.s3_url_for_object(ASYNC_OUTPUT_PREFIX),
            description="Where results land (failures under async-failures/)",
        )
        CfnOutput(
            self,
            "SuccessTopicArn",
            value=endpoint.success_topic.topic_arn,
            description="Results are announced here",
        )
        CfnOutput(
            self,
            "ErrorTopicArn",
            value=endpoint.error_topic.topic_arn,
            description="Failures are announced here",
        )
