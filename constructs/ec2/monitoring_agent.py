"""What an accelerated instance runs at boot to report its accelerators to CloudWatch.

- NVIDIA GPUs: the CloudWatch agent's ``nvidia_gpu`` section under ``metrics_collected`` publishes
  ``nvidia_smi_<measurement>`` metrics ("Collect NVIDIA GPU metrics", Amazon CloudWatch User Guide,
  CloudWatch-Agent-NVIDIA-GPU.html); the GPU DLAMIs ship the agent (``amazon-cloudwatch-agent`` in
  their release notes' package lists).
- Neuron: AWS's documented route is ``neuron-monitor | neuron-monitor-cloudwatch.py --namespace
  <namespace> --region <region>`` (Neuron documentation, "Neuron Monitor User Guide"; both ship with
  the Neuron tools at ``/opt/aws/neuron/bin``). It runs as a systemd service here, restarted if it stops.

The user data holds no secrets: the namespace, the region and the fleet's group name only.
"""

from __future__ import annotations

import json

__all__ = ["GPU_MEASUREMENTS", "agent_user_data"]

# The measurements the fleet's alarms and dashboards use.
GPU_MEASUREMENTS = ("utilization_gpu", "utilization_memory", "temperature_gpu", "power_draw")

_NEURON_SERVICE = """[Unit]
Description=Neuron metrics to CloudWatch (neuron-monitor | neuron-monitor-cloudwatch.py)
After=network-online.target

[Service]
ExecStart=/bin/bash -c '/opt/aws/neuron/bin/neuron-monitor | /opt/aws/neuron/bin/neuron-monitor-cloudwatch.py --namespace {namespace} --region {region}'
Restart=always
RestartSec=30

[Install]
WantedBy=multi-user.target
"""


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


def agent_user_data(*, neuron: bool, namespace: str, region: str) -> list[str]:
    """Shell commands, run once at first boot, that start the accelerator metrics."""
    if neuron:
        unit = _NEURON_SERVICE.format(namespace=namespace, region=region)
        return [
            "cat > /etc/systemd/system/neuron-monitor-cloudwatch.service <<'UNIT'",
            unit.rstrip("\n"),
            "UNIT",
            "systemctl daemon-reload",
            "systemctl enable --now neuron-monitor-cloudwatch.service",
        ]
    config = json.dumps(gpu_agent_config(namespace), indent=2)
    path = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    return [
        f"cat > {path} <<'CONFIG'",
        config,
        "CONFIG",
        f"/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{path}",
    ]
