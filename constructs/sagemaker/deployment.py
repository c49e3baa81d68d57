"""Safe updates of an endpoint: blue/green (all at once, canary, linear) or rolling, with auto-rollback.

SageMaker's deployment guardrails shift traffic from the old fleet to the new one step by step and
roll back when one of the endpoint's alarms fires. The limits are the API's (read from botocore) and
the documented ones botocore does not carry:

- a canary is at most 50% of the variant's instances; a linear step is 10-50%; a rolling batch is
  5-50% (API reference: ``TrafficRoutingConfig``, ``RollingUpdatePolicy``);
- rolling updates are not available for serverless or multi-variant endpoints, and endpoints on Inf1
  instances cannot use guardrails at all: SageMaker falls back to blue/green, all at once, with no
  baking period ("Exclusions", https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html);
- the new endpoint configuration must keep the variant's name (same page), which is why the
  endpoint constructs' ``variant_name`` is fixed.

Blue/green needs the new fleet next to the old one, twice the instances for the length of the
update; where accelerated capacity is scarce, rolling replaces a batch at a time instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sagemaker as sagemaker

from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compute.instance_types import InstanceType
from mlblueprints.constructs.errors import Problem

__all__ = ["BlueGreenUpdate", "Capacity", "RollingUpdate", "TrafficShift", "default_deployment"]


class TrafficShift(enum.Enum):
    """How a blue/green update moves traffic to the new fleet."""

    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


@dataclass(frozen=True)
class Capacity:
    """A share of a variant's instances: :meth:`percent` or :meth:`instances`."""

    value: int
    unit: str  # "CAPACITY_PERCENT" or "INSTANCE_COUNT", the API's CapacitySizeType

    @classmethod
    def percent(cls, value: int) -> Capacity:
        return cls(value, "CAPACITY_PERCENT")

    @classmethod
    def instances(cls, value: int) -> Capacity:
        return cls(value, "INSTANCE_COUNT")

    def __str__(self) -> str:
        return f"{self.value}%" if self.unit == "CAPACITY_PERCENT" else f"{self.value} instance(s)"

    def share_of(self, instance_count: int) -> float:
        """The share, in percent, of ``instance_count`` instances."""
        return float(self.value) if self.unit == "CAPACITY_PERCENT" else 100.0 * self.value / instance_count

    def to_cfn(self) -> sagemaker.CfnEndpoint.CapacitySizeProperty:
        return sagemaker.CfnEndpoint.CapacitySizeProperty(type=self.unit, value=self.value)


def _range_problems(
    what: str, capacity: Capacity, low: float, high: float, instance_count: int
) -> list[Problem]:
    """``what`` ("a canary") of ``capacity`` must be ``low``-``high`` % of the variant's instances."""
    if capacity.value < 1:
        return [
            Problem(
                f"{what} of {capacity}: use 1 or more.", setting="update_step_percent", value=capacity.value
            )
        ]
    share = capacity.share_of(instance_count)
    if low <= share <= high:
        return []
    of = "" if capacity.unit == "CAPACITY_PERCENT" else f" ({share:.0f}% of {instance_count} instances)"
    return [
        Problem(
            f"{what} of {capacity}{of}: SageMaker requires {low:g}-{high:g}% of the variant's instances. Use "
            f"{max(int(low), 1)} to {int(high)} percent (update_step_percent; Capacity.percent in code), or more "
            "instances.",
            setting="update_step_percent",
            value=capacity.value,
        )
    ]


def _duration_problems(
    what: str, setting: str, duration: Duration, structure: str, member: str
) -> list[Problem]:
    rule = number_rule(structure, member)
    seconds = duration.to_seconds()
    if rule.contains(seconds):
        return []
    return [
        Problem(
            f"{what} of {seconds:g} s: SageMaker accepts {rule.describe()} seconds.",
            setting=setting,
            value=seconds,
        )
    ]


_STEP_WAIT = "a wait between update steps (update_wait_seconds)"


@dataclass(frozen=True)
class BlueGreenUpdate:
    """A new fleet beside the old; traffic moves all at once, in a canary step, or in linear steps.

    :param traffic: ``ALL_AT_ONCE`` (default), ``CANARY`` (``step`` first, then the rest) or
        ``LINEAR`` (``step`` at a time).
    :param step: the canary (at most 50%) or the linear step (10-50%). Default: 10% for a canary,
        20% for linear steps.
    :param wait_interval: how long each step bakes with the alarms watching before the next.
    :param termination_wait: how long the old fleet is kept after all traffic moved, for a rollback.
    """

    traffic: TrafficShift = TrafficShift.ALL_AT_ONCE
    step: Capacity | None = None
    wait_interval: Duration = Duration.minutes(10)
    termination_wait: Duration = Duration.minutes(5)
    max_execution_timeout: Duration | None = None

    @property
    def rolling(self) -> bool:
        return False

    def _step(self) -> Capacity | None:
        if self.traffic is TrafficShift.CANARY:
            return self.step or Capacity.percent(10)
        if self.traffic is TrafficShift.LINEAR:
            return self.step or Capacity.percent(20)
        return None

    def problems(self, instance_count: int) -> list[Problem]:
        problems = []
        step = self._step()
        if self.traffic is TrafficShift.ALL_AT_ONCE and self.step is not None:
            problems.append(
                Problem(
                    f"deployment step={self.step} applies to CANARY and LINEAR traffic shifts, not ALL_AT_ONCE; "
                    "drop it or choose a shift that uses it.",
                    setting="deployment_step",
                )
            )
        elif self.traffic is TrafficShift.CANARY and step is not None:
            problems += _range_problems("a canary", step, 0, 50, instance_count)
        elif self.traffic is TrafficShift.LINEAR and step is not None:
            problems += _range_problems("a linear step", step, 10, 50, instance_count)
        problems += _duration_problems(
            _STEP_WAIT,
            "update_wait_seconds",
            self.wait_interval,
            "TrafficRoutingConfig",
            "WaitIntervalInSeconds",
        )
        problems += _duration_problems(
            "a wait before the old fleet is terminated",
            "termination_wait",
            self.termination_wait,
            "BlueGreenUpdatePolicy",
            "TerminationWaitInSeconds",
        )
        problems += _timeout_problems(
            self.max_execution_timeout, self._waits(instance_count), "BlueGreenUpdatePolicy"
        )
        return problems

    def _waits(self, instance_count: int) -> float:
        steps = 1
        step = self._step()
        if self.traffic is TrafficShift.LINEAR and step is not None:
            steps = max(1, int(100 // max(step.share_of(instance_count), 1)))
        elif self.traffic is TrafficShift.CANARY:
            steps = 2
        return steps * self.wait_interval.to_seconds() + self.termination_wait.to_seconds()

    def to_cfn(
        self, instance_count: int, alarm_names: list[str]
    ) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        step = self._step()
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type=self.traffic.value,
                    wait_interval_in_seconds=int(self.wait_interval.to_seconds()),
                    canary_size=step.to_cfn() if self.traffic is TrafficShift.CANARY else None,
                    linear_step_size=step.to_cfn() if self.traffic is TrafficShift.LINEAR else None,
                ),
                termination_wait_in_seconds=int(self.termination_wait.to_seconds()),
                maximum_execution_timeout_in_seconds=_timeout(
                    self.max_execution_timeout, self._waits(instance_count)
                ),
            ),
            auto_rollback_configuration=_rollback(alarm_names),
        )


@dataclass(frozen=True)
class RollingUpdate:
    """Replace the fleet a batch at a time, in place: no second fleet, so no extra scarce capacity.

    :param batch: instances replaced at once, 5-50% of the variant (default 25%).
    :param wait_interval: how long each batch bakes with the alarms watching before the next.
    :param rollback_batch: instances rolled back at once; default: all at once (SageMaker's default).
    """

    batch: Capacity = Capacity(25, "CAPACITY_PERCENT")
    wait_interval: Duration = Duration.minutes(5)
    rollback_batch: Capacity | None = None
    max_execution_timeout: Duration | None = None

    @property
    def rolling(self) -> bool:
        return True

    def problems(self, instance_count: int) -> list[Problem]:
        problems = []
        if instance_count < 2:
            problems.append(
                Problem(
                    f"a rolling update needs 2 or more instances, and this variant can have {instance_count} "
                    "(initial_instance_count, or min_capacity with auto scaling): a batch is at most 50% of the "
                    'fleet. Use a blue/green update (update_strategy "all-at-once", "canary" or "linear"), or keep '
                    "2 or more instances.",
                    setting="update_strategy",
                    value="rolling",
                )
            )
        else:
            problems += _range_problems("a rolling batch", self.batch, 5, 50, instance_count)
        if self.rollback_batch is not None and self.rollback_batch.value < 1:
            problems.append(Problem("rollback_batch: use 1 or more.", setting="rollback_batch"))
        problems += _duration_problems(
            _STEP_WAIT,
            "update_wait_seconds",
            self.wait_interval,
            "RollingUpdatePolicy",
            "WaitIntervalInSeconds",
        )
        problems += _timeout_problems(
            self.max_execution_timeout, self._waits(instance_count), "RollingUpdatePolicy"
        )
        return problems

    def _waits(self, instance_count: int) -> float:
        batches = max(1, int(-(-100 // max(self.batch.share_of(max(instance_count, 1)), 1))))
        return batches * self.wait_interval.to_seconds()

    def to_cfn(
        self, instance_count: int, alarm_names: list[str]
    ) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            rolling_update_policy=sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
                maximum_batch_size=self.batch.to_cfn(),
                wait_interval_in_seconds=int(self.wait_interval.to_seconds()),
                rollback_maximum_batch_size=self.rollback_batch.to_cfn() if self.rollback_batch else None,
                maximum_execution_timeout_in_seconds=_timeout(
                    self.max_execution_timeout, self._waits(instance_count)
                ),
            ),
            auto_rollback_configuration=_rollback(alarm_names),
        )


def _timeout_problems(timeout: Duration | None, waits: float, structure: str) -> list[Problem]:
    rule = number_rule(structure, "MaximumExecutionTimeoutInSeconds")
    if timeout is None:
        if rule.maximum is not None and waits >= rule.maximum:
            return [
                Problem(
                    f"the update's waits add up to {waits:g} s, and SageMaker gives one update at most "
                    f"{rule.maximum} s: it would time out. Shorten update_wait_seconds, or take larger steps.",
                    setting="update_wait_seconds",
                    value=waits,
                )
            ]
        return []
    problems = _duration_problems(
        "an update timeout", "max_execution_timeout", timeout, structure, "MaximumExecutionTimeoutInSeconds"
    )
    if not problems and timeout.to_seconds() <= waits:
        problems.append(
            Problem(
                f"an update timeout of {timeout.to_seconds():g} s is not longer than the update's waits "
                f"({waits:g} s); SageMaker needs it larger. Raise it or shorten the waits.",
                setting="max_execution_timeout",
            )
        )
    return problems


def _timeout(timeout: Duration | None, waits: float) -> int:
    """The given timeout, or the waits plus an hour for instances to start, within the API's range."""
    if timeout is not None:
        return int(timeout.to_seconds())
    rule = number_rule("RollingUpdatePolicy", "MaximumExecutionTimeoutInSeconds")
    return int(min(max(waits + 3600, rule.minimum or 0), rule.maximum or waits + 3600))


def _rollback(alarm_names: list[str]) -> sagemaker.CfnEndpoint.AutoRollbackConfigProperty | None:
    if not alarm_names:
        return None
    return sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
        alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in alarm_names]
    )


def default_deployment(instance: InstanceType | None, min_instances: int) -> BlueGreenUpdate | RollingUpdate:
    """Rolling on accelerated instances where the fleet allows it (capacity is scarce), else blue/green."""
    if instance is not None and instance.is_accelerated and min_instances >= 2 and not is_inf1(instance):
        return RollingUpdate()
    return BlueGreenUpdate()


def is_inf1(instance: InstanceType | None) -> bool:
    return instance is not None and instance.family == "inf1"


# The names a config file uses for the update strategies.
UPDATE_STRATEGIES = ("rolling", "all-at-once", "canary", "linear")


def deployment_for(
    strategy: str | None,
    *,
    step_percent: int | None = None,
    wait_seconds: int | None = None,
    instance: InstanceType | None = None,
    min_instances: int = 2,
) -> BlueGreenUpdate | RollingUpdate | None:
    """The update policy a config names (``None``: the construct's default for its instance type)."""
    if strategy is None and step_percent is None and wait_seconds is None:
        return None
    if strategy is None:
        strategy = "rolling" if default_deployment(instance, min_instances).rolling else "all-at-once"
    wait = {} if wait_seconds is None else {"wait_interval": Duration.seconds(wait_seconds)}
    step = None if step_percent is None else Capacity.percent(step_percent)
    if strategy == "rolling":
        return RollingUpdate(**({"batch": step} if step else {}), **wait)
    traffic = {
        "all-at-once": TrafficShift.ALL_AT_ONCE,
        "canary": TrafficShift.CANARY,
        "linear": TrafficShift.LINEAR,
    }
    return BlueGreenUpdate(traffic=traffic[strategy], step=step, **wait)
