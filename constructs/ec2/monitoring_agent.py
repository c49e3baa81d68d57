"""What an accelerated instance runs at boot to report its accelerators to CloudWatch.

- NVIDIA GPUs, per-GPU detail: the CloudWatch agent's ``nvidia_gpu`` section under
  ``metrics_collected`` publishes ``nvidia_smi_<measurement>`` metrics ("Collect NVIDIA GPU metrics",
  Amazon CloudWatch User Guide, CloudWatch-Agent-NVIDIA-GPU.html); the GPU DLAMIs ship the agent
  (``amazon-cloudwatch-agent`` in their release notes' package lists).
- Health and utilization, GPU and Neuron alike: the catalog's accelerator health reporter
  (``_private/accelerator_health.py``), run by systemd. The agent has no measurement for Xid events
  or ECC errors, and AWS's Neuron pipe (``neuron-monitor-cloudwatch.py``) needs boto3, which the
  Neuron DLAMIs' system Python is not documented to have, and publishes metric names AWS does not
  document; the reporter reads ``nvidia-smi``, the kernel log or ``neuron-monitor`` itself and
  publishes the three metrics the fleet's alarms and idle scaling use, with the standard library only.

The user data holds no secrets: the namespace, the fleet's name, the region and the endpoint only.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from collections.abc import Mapping
from importlib import resources

__all__ = ["GPU_MEASUREMENTS", "HEALTH_METRICS", "agent_user_data"]

# The agent's per-GPU measurements, for dashboards.
GPU_MEASUREMENTS = ("utilization_gpu", "utilization_memory", "temperature_gpu", "power_draw")
# What the health reporter publishes (see its docstring), with the dimension Fleet and again with
# Fleet and InstanceId.
HEALTH_METRICS = ("AcceleratorUtilization", "AcceleratorErrors", "AcceleratorsMissing")
REPORTER_PATH = "/opt/mlblueprints/accelerator_health.py"
REPORTER_PERIOD_SECONDS = 60

_HEALTH_SERVICE = """[Unit]
Description=Accelerator health and utilization to CloudWatch (mlblueprints)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 {path} --kind {kind} --namespace {namespace} --fleet {fleet} --region {region} --endpoint {endpoint} --expected-devices {expected} --period {period}
Restart=always
RestartSec=30

[Install]
WantedBy=multi-user.target
"""


@functools.cache
def reporter_source() -> str:
    """The reporter's source, as the instance runs it."""
    return (
        resources.files("mlblueprints.constructs.ec2._private")
        .joinpath("accelerator_health.py")
        .read_text(encoding="utf-8")
    )


def gpu_agent_config(namespace: str) -> dict:
    """The CloudWatch agent configuration for NVIDIA GPU metrics, one series per GPU and per group."""
    return {
        "agent": {"metrics_collection_interval": 60},
        "metrics": {
            "namespace": namespace,
            "append_dimensions": {"AutoScalingGroupName": "${aws:AutoScalingGroupName}"},
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {"nvidia_gpu": {"measurement": list(GPU_MEASUREMENTS)}},
        },
    }


def reporter_payload() -> str:
    """The reporter gzipped and base64-encoded: EC2 takes 16 KB of user data, and the reporter's source
    alone is most of it."""
    compressed = gzip.compress(reporter_source().encode(), compresslevel=9, mtime=0)
    return base64.b64encode(compressed).decode()


def expected_devices_argument(expected: Mapping[str, int | None]) -> str:
    """``type=count,...`` for the types whose GPU or Neuron device count is known (the reporter reads its
    own type from instance metadata), or ``-`` when none is."""
    known = [f"{name}={count}" for name, count in expected.items() if count]
    return ",".join(known) or "-"


def agent_user_data(
    *,
    neuron: bool,
    namespace: str,
    fleet: str,
    region: str,
    endpoint: str,
    expected_devices: Mapping[str, int | None],
) -> list[str]:
    """Shell commands, run once at first boot, that start the accelerator metrics.

    ``endpoint`` is CloudWatch's (``https://monitoring.<region>.<url suffix>/``), reached through the
    VPC's interface endpoint; ``expected_devices`` each type's GPU or Neuron device count (None: unknown,
    no ``AcceleratorsMissing`` on that type).
    """
    unit = _HEALTH_SERVICE.format(
        path=REPORTER_PATH,
        kind="neuron" if neuron else "nvidia",
        namespace=namespace,
        fleet=fleet,
        region=region,
        endpoint=endpoint,
        expected=expected_devices_argument(expected_devices),
        period=REPORTER_PERIOD_SECONDS,
    )
    commands = [
        f"mkdir -p {REPORTER_PATH.rsplit('/', 1)[0]}",
        f"base64 -d <<'REPORTER' | gzip -dc > {REPORTER_PATH}",
        reporter_payload(),
        "REPORTER",
        "cat > /etc/systemd/system/accelerator-health.service <<'UNIT'",
        unit.rstrip("\n"),
        "UNIT",
        "systemctl daemon-reload",
        "systemctl enable --now accelerator-health.service",
    ]
    if neuron:
        return commands
    config = json.dumps(gpu_agent_config(namespace), indent=2)
    path = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    return [
        f"cat > {path} <<'CONFIG'",
        config,
        "CONFIG",
        f"/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{path}",
        *commands,
    ]
