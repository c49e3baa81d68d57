"""A custom A2I task type for a SageMaker endpoint: people review the predictions the model is unsure of.

A function (``_handlers/confidence_gate.py``) calls the endpoint, and starts a human loop of the flow
definition when the prediction's confidence is below the threshold. Callers invoke the function
instead of the endpoint; the answer carries the prediction either way.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from mlblueprints.constructs.a2i.flow_definition import HANDLERS, FlowDefinition
from mlblueprints.constructs.compliance.acknowledge import acknowledge_inline_policy
from mlblueprints.constructs.compliance.functions import (
    PYTHON_RUNTIME,
    accept_synchronous_function,
    encrypted_log_group,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["ConfidenceGate", "ConfidenceGateError"]


class ConfidenceGateError(MlBlueprintsError):
    """Confidence gate settings that could never start a review, or always would."""


class ConfidenceGate(Construct):
    """Invoke ``endpoint_name``; below ``threshold`` confidence (at ``confidence_key``), start a review.

    :param threshold: in the units of the model's confidence (0 to 1 for most classifiers).
    :param reserved_concurrency: the most invocations at once (each may start a human loop).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        flow_definition: FlowDefinition,
        threshold: float,
        encryption_key: kms.IKey,
        confidence_key: str = "confidence",
        reserved_concurrency: int = 10,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not threshold > 0:
            problems.append(
                Problem(
                    f"threshold={threshold}: no confidence is below it; use a positive number.",
                    setting="threshold",
                )
            )
        if not confidence_key or any(not part for part in confidence_key.split(".")):
            problems.append(
                Problem(
                    f"confidence_key={confidence_key!r}: use a dotted path such as 'confidence'.",
                    setting="confidence_key",
                )
            )
        if reserved_concurrency < 1:
            problems.append(
                Problem("reserved_concurrency must be 1 or more.", setting="reserved_concurrency")
            )
        if problems:
            raise ConfidenceGateError(problems)
        stack = Stack.of(self)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=PYTHON_RUNTIME,
            handler="confidence_gate.handle",
            code=lambda_.Code.from_asset(
                str(HANDLERS), exclude=["__pycache__", "*.pyc", "flow_definition.py"]
            ),
            timeout=Duration.seconds(60),
            memory_size=256,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "ENDPOINT_NAME": endpoint_name,
                "FLOW_DEFINITION_ARN": flow_definition.flow_definition_arn,
                "CONFIDENCE_THRESHOLD": str(threshold),
                "CONFIDENCE_KEY": confidence_key,
            },
            environment_encryption=encryption_key,
            log_group=encrypted_log_group(
                self, "Logs", encryption_key=encryption_key, removal_policy=removal_policy, purpose="a2i"
            ),
            description="Calls the endpoint; starts an A2I human review when the prediction is unsure",
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"],
                resources=[
                    stack.format_arn(
                        service="sagemaker",
                        resource="endpoint",
                        resource_name=endpoint_name.lower()
                        if not Token.is_unresolved(endpoint_name)
                        else endpoint_name,
                    )
                ],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartHumanLoop"], resources=[flow_definition.flow_definition_arn]
            )
        )
        acknowledge_inline_policy(self.function.role)
        accept_synchronous_function(
            self.function,
            topic="confidence gate",
            caller="the caller",
            outside_vpc="It calls two AWS APIs (SageMaker Runtime, A2I Runtime) over TLS with its role and keeps "
            "nothing: no data at rest, no network resource to reach",
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` ask for predictions through the gate."""
        return self.function.grant_invoke(grantee)
