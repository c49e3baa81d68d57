"""The accelerator health reporter: its parsing, its SigV4 signature (checked against botocore's), and
the script run as a local process against a fake metadata service, a fake CloudWatch and fake tools."""

from __future__ import annotations

import ast
import base64
import datetime
import gzip
import json
import os
import re
import stat
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mlblueprints.constructs.ec2._private import accelerator_health as reporter
from mlblueprints.constructs.ec2.monitoring_agent import agent_user_data, reporter_source

SCRIPT = Path(reporter.__file__)
CREDENTIALS = {
    "AccessKeyId": "ASIAEXAMPLE",
    "SecretAccessKey": "secret/example+key",
    "Token": "session-token",
}
NVIDIA_SMI = "97, 0\n3, [N/A]\n100, 2\n[N/A], 0\n"
KERNEL_LOG = (
    "nvidia: module loaded\n"
    "NVRM: Xid (PCI:0000:10:1c): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
    "NVRM: GPU at PCI:0000:10:1c: GPU-1234\n"
    "NVRM: Xid (PCI:0000:20:1c): 48, pid=1234, name=python, An uncorrectable double bit error (DBE) has been "
    "detected on GPU.\n"
)
NEURON_REPORT = {
    "neuron_runtime_data": [
        {
            "pid": 1234,
            "report": {
                "neuroncore_counters": {
                    "neuroncores_in_use": {
                        "0": {"neuroncore_utilization": 80.0},
                        "1": {"neuroncore_utilization": 40.0},
                    }
                },
                "execution_stats": {"error_summary": {"generic": 3, "numerical": 0, "hardware": 1}},
            },
        }
    ],
    "system_data": {
        "neuron_hw_counters": {
            "neuron_devices": [
                {
                    "neuron_device_index": 0,
                    "mem_ecc_corrected": 9,
                    "mem_ecc_uncorrected": 1,
                    "sram_ecc_uncorrected": 0,
                },
                {
                    "neuron_device_index": 1,
                    "mem_ecc_corrected": 0,
                    "mem_ecc_uncorrected": 0,
                    "sram_ecc_uncorrected": 2,
                },
            ]
        }
    },
    "neuron_hardware_info": {"neuron_device_count": 2, "neuroncore_per_device_count": 2},
}


def test_runs_on_the_dlamis_system_python():
    """Amazon Linux 2023's python3 is 3.9: the reporter must parse as 3.9 and use the standard library only."""
    tree = ast.parse(SCRIPT.read_text(), feature_version=(3, 9))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)
    # 3.11's datetime.UTC parses as 3.9 but fails there.
    assert not re.search(r"\bdatetime\.UTC\b", SCRIPT.read_text())


def test_nvidia_smi_and_kernel_log():
    seen, utilization, ecc = reporter.parse_nvidia_smi(NVIDIA_SMI)
    assert (seen, utilization, ecc) == (4, pytest.approx((97 + 3 + 100) / 3), 2)
    assert reporter.count_xid(KERNEL_LOG) == 2
    assert reporter.parse_nvidia_smi("") == (0, None, None)
    assert reporter.parse_nvidia_smi("No devices were found\n") == (0, None, None)  # not a GPU row
    # No GPU reports ECC: no reading (None), not zero errors.
    assert reporter.parse_nvidia_smi("40, [N/A]\n")[2] is None


def test_neuron_report():
    devices, utilization, hardware, ecc = reporter.parse_neuron_report(NEURON_REPORT)
    # Hardware execution errors, and uncorrected ECC; generic (application) errors and corrected ECC are not.
    # Two cores busy of the four the two devices have: idle cores are not listed, and count as 0.
    assert (devices, utilization, hardware, ecc) == (2, (80 + 40) / 4, 1, 1 + 2)
    idle = {"neuron_hardware_info": {"neuron_device_count": 2, "neuroncore_per_device_count": 8}}
    assert reporter.parse_neuron_report(idle) == (2, 0.0, 0, 0)
    # Trn2 as the Neuron Monitor User Guide shows it: 16 devices of 4 (logical) cores, LNC 2.
    trn2 = {"neuron_hardware_info": {"neuron_device_count": 16, "neuroncore_per_device_count": 4,
                                     "logical_neuroncore_config": 2}}  # fmt: skip
    trn2["neuron_runtime_data"] = [
        {"report": {"neuroncore_counters": {"neuroncores_in_use": {"0": {"neuroncore_utilization": 64.0}}}}}
    ]
    assert reporter.parse_neuron_report(trn2)[1] == 1.0  # 64% on one core of 64
    # The driver is not loaded: neuron-monitor reports an error and no device; every device is missing.
    missing = {"neuron_hardware_info": {"error": "no neuron device found"}}
    assert reporter.parse_neuron_report(missing) == (0, None, 0, 0)


def _botocore_headers(url: str, body: bytes, headers: dict, now: datetime.datetime) -> dict:
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": headers["content-type"]})
    credentials = Credentials(
        CREDENTIALS["AccessKeyId"], CREDENTIALS["SecretAccessKey"], CREDENTIALS["Token"]
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        SigV4Auth(credentials, "monitoring", "cn-north-1").add_auth(request)
    return dict(request.headers)


def test_signature_matches_botocore():
    now = datetime.datetime(2026, 11, 25, 6, 30, 5, tzinfo=datetime.UTC)
    url = "https://monitoring.cn-north-1.amazonaws.com.cn/"
    body = reporter.put_metric_data_body(
        "mlblueprints/gpu",
        [("AcceleratorErrors", 2, "Count")],
        [{"Fleet": "a b/c"}, {"Fleet": "x", "InstanceId": "i-1"}],
    )
    ours = reporter.sign(url=url, body=body, region="cn-north-1", credentials=CREDENTIALS, now=now)
    theirs = _botocore_headers(url, body, ours, now)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["x-amz-security-token"] == theirs["X-Amz-Security-Token"] == "session-token"


def test_put_metric_data_body():
    body = reporter.put_metric_data_body(
        "ns",
        [("A", 1, "Count"), ("B", 50.5, "Percent")],
        [{"Fleet": "f"}, {"Fleet": "f", "InstanceId": "i-1"}],
    )
    fields = dict(urllib.parse.parse_qsl(body.decode()))
    assert (
        fields["Action"] == "PutMetricData"
        and fields["Version"] == "2010-08-01"
        and fields["Namespace"] == "ns"
    )
    assert [fields[f"MetricData.member.{i}.MetricName"] for i in range(1, 5)] == ["A", "A", "B", "B"]
    assert fields["MetricData.member.2.Dimensions.member.2.Name"] == "InstanceId"
    assert fields["MetricData.member.3.Value"] == "50.5" and fields["MetricData.member.3.Unit"] == "Percent"
    assert "MetricData.member.5.MetricName" not in fields


class _Fakes(BaseHTTPRequestHandler):
    """IMDSv2 (token required) and CloudWatch on one local server."""

    received: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def _reply(self, status: int, text: str = "") -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(text.encode())

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self._reply(200, "token-1")
        return self._reply(400)

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "token-1":
            return self._reply(401)
        answers = {
            "/latest/meta-data/instance-id": "i-0abc",
            "/latest/meta-data/instance-type": "g5.48xlarge",
            "/latest/meta-data/iam/security-credentials/": "FleetRole",
            "/latest/meta-data/iam/security-credentials/FleetRole": json.dumps(CREDENTIALS),
        }
        return self._reply(200, answers[self.path]) if self.path in answers else self._reply(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        return self._reply(200, "<PutMetricDataResponse/>")


@pytest.fixture
def fakes():
    _Fakes.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fakes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _tool(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _run(tmp_path: Path, fakes: str, *args: str) -> dict[str, str]:
    _Fakes.received = []
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--namespace", "mlblueprints/test", "--fleet", "Stack-Fleet", "--region",
         "us-east-1", "--endpoint", f"{fakes}/", "--imds", fakes, "--state", str(tmp_path / "state"), "--once",
         *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    ((headers, body),) = _Fakes.received
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/")
    assert "/us-east-1/monitoring/aws4_request" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "session-token"
    return dict(urllib.parse.parse_qsl(body.decode()))


def _metrics(fields: dict[str, str]) -> dict[tuple[str, str], float]:
    """(metric, InstanceId or '') -> value."""
    found = {}
    member = 1
    while f"MetricData.member.{member}.MetricName" in fields:
        prefix = f"MetricData.member.{member}"
        dimensions = {
            fields[f"{prefix}.Dimensions.member.{i}.Name"]: fields[f"{prefix}.Dimensions.member.{i}.Value"]
            for i in (1, 2)
            if f"{prefix}.Dimensions.member.{i}.Name" in fields
        }
        assert dimensions["Fleet"] == "Stack-Fleet"
        found[(fields[f"{prefix}.MetricName"], dimensions.get("InstanceId", ""))] = float(
            fields[f"{prefix}.Value"]
        )
        member += 1
    return found


def test_nvidia_process_reports_errors_missing_gpus_and_utilization(tmp_path, fakes):
    _tool(tmp_path, "nvidia-smi", f"printf '{NVIDIA_SMI}'\n")
    _tool(tmp_path, "journalctl", f"cat <<'LOG'\n{KERNEL_LOG}LOG\n")
    # The instance is a g5.48xlarge (the fake metadata service says so): 8 GPUs expected, not the 1 of g5.xlarge.
    fields = _run(tmp_path, fakes, "--kind", "nvidia", "--expected-devices", "g5.xlarge=1,g5.48xlarge=8")
    assert fields["Namespace"] == "mlblueprints/test"
    metrics = _metrics(fields)
    for instance in ("", "i-0abc"):
        assert metrics[("AcceleratorErrors", instance)] == 2 + 2  # two ECC errors, two Xid events
        assert metrics[("AcceleratorsMissing", instance)] == 8 - 4
        assert metrics[("AcceleratorUtilization", instance)] == pytest.approx(200 / 3)
    # Restarted (systemd restarts it), it reports no error twice: the baselines are kept under --state.
    again = _metrics(_run(tmp_path, fakes, "--kind", "nvidia", "--expected-devices", "g5.48xlarge=8"))
    assert again[("AcceleratorErrors", "i-0abc")] == 0


def test_nvidia_smi_failing_means_every_gpu_missing(tmp_path, fakes):
    _tool(tmp_path, "nvidia-smi", "echo 'Unable to determine the device handle' >&2; exit 15\n")
    _tool(tmp_path, "journalctl", "true\n")
    metrics = _metrics(_run(tmp_path, fakes, "--kind", "nvidia", "--expected-devices", "g5.48xlarge=8"))
    assert metrics[("AcceleratorsMissing", "i-0abc")] == 8
    assert metrics[("AcceleratorErrors", "i-0abc")] == 0
    assert ("AcceleratorUtilization", "i-0abc") not in metrics


def test_neuron_process_reads_neuron_monitor(tmp_path, fakes):
    _tool(tmp_path, "neuron-monitor", f"cat <<'JSON'\n{json.dumps(NEURON_REPORT)}\nJSON\nexec sleep 30\n")
    metrics = _metrics(
        _run(
            tmp_path,
            fakes,
            "--kind",
            "neuron",
            "--expected-devices",
            "g5.48xlarge=16",
            "--neuron-monitor",
            str(tmp_path / "neuron-monitor"),
            "--neuron-config",
            str(tmp_path / "nm.json"),
        )
    )
    assert metrics[("AcceleratorErrors", "")] == 4
    assert metrics[("AcceleratorsMissing", "")] == 16 - 2
    assert metrics[("AcceleratorUtilization", "")] == 30
    config = json.loads((tmp_path / "nm.json").read_text())
    assert config["period"] == "60s"


def test_error_counters_are_counted_once_each_and_survive_a_restart(tmp_path):
    state = str(tmp_path / "state")
    baselines = reporter.Baselines(state)
    # The first reading carries the boot's errors; a counter that went down (driver reloaded) starts over.
    assert [baselines.increase("ecc", total) for total in (3, 3, 5, 1)] == [3, 0, 2, 1]
    # An unread counter (nvidia-smi failed) adds nothing and keeps its baseline.
    assert baselines.increase("ecc", None) == 0 and baselines.increase("ecc", 1) == 0
    assert baselines.increase("xid", 2) == 2  # each source has its own baseline
    # A restarted reporter reads the baselines back: nothing is reported twice.
    again = reporter.Baselines(state)
    assert again.increase("ecc", 1) == 0 and again.increase("xid", 3) == 1


def test_expected_devices_per_instance_type():
    spec = "g5.48xlarge=8,g5.xlarge=1"
    assert reporter.expected_for(spec, "g5.xlarge") == 1
    assert reporter.expected_for(spec, "g5.48xlarge") == 8
    assert reporter.expected_for(spec, "g6.xlarge") == 0 and reporter.expected_for("-", "g5.xlarge") == 0


@pytest.mark.parametrize("neuron", [False, True])
def test_user_data_carries_the_reporter_and_fits_ec2s_limit(neuron):
    # The worst case the construct allows: a 128-character fleet name, a long region and URL suffix,
    # a mixed fleet (region and suffix are tokens at synth; CloudFormation puts in at most these).
    region, suffix = "ap-southeast-5", "amazonaws.com.cn"
    commands = agent_user_data(
        neuron=neuron, namespace="mlblueprints/neuron", fleet="F" * 128, region=region,
        endpoint=f"https://monitoring.{region}.{suffix}/",
        expected_devices={"p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.48xlarge": 8},
    )  # fmt: skip
    text = "#!/bin/bash\n" + "\n".join(commands)
    payload = text.split("<<'REPORTER' | gzip -dc > /opt/mlblueprints/accelerator_health.py\n")[1].split(
        "\nREPORTER"
    )[0]
    assert gzip.decompress(base64.b64decode(payload)).decode() == reporter_source()
    # EC2 refuses user data above 16 KB before base64 encoding (EC2 User Guide, "Run commands when you
    # launch an EC2 instance with user data input").
    assert len(text.encode()) < 16 * 1024
    assert ("amazon-cloudwatch-agent-ctl" in text) is not neuron
    assert "--kind neuron" in text if neuron else "--kind nvidia" in text
