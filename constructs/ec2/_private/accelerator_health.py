#!/usr/bin/env python3
"""Accelerator health reporter: runs on each fleet instance and publishes to CloudWatch.

Shipped to the instance in its user data and run by systemd. Standard library only, and Python 3.9
compatible: it runs on the system ``python3`` of the Deep Learning AMIs (Amazon Linux 2023 has 3.9),
which has neither boto3 nor pip packages of its own. It signs its requests itself (Signature Version 4)
with the instance role's credentials from IMDSv2.

Every ``--period`` seconds it publishes, under ``--namespace`` with the dimension ``Fleet`` (and again
with ``Fleet`` and ``InstanceId``):

- ``AcceleratorUtilization`` (Percent): the mean over the instance's GPUs or NeuronCores.
- ``AcceleratorErrors`` (Count): errors since the last report. NVIDIA: Xid events in the kernel log
  (``NVRM: Xid``) and uncorrected ECC errors (nvidia-smi ``ecc.errors.uncorrected.volatile.total``).
  Neuron: hardware errors of the runtimes' executions and uncorrected memory and SRAM ECC errors
  (neuron-monitor's ``error_summary.hardware`` and ``neuron_hw_counters``).
- ``AcceleratorsMissing`` (Count): devices the instance type has but the driver does not see (a GPU
  fallen off the bus, a Neuron device the driver did not load), when ``--expected-devices`` names the
  instance's type (``g5.48xlarge=8,g5.xlarge=1``: a fleet may mix types).

Errors are counted once. NVIDIA's counters run from the boot (the kernel log) or the driver's load
(ECC): each report carries each counter's increase since the previous reading, which is kept under
/run (cleared at reboot, as the counters are), so a restarted reporter does not count them again; a
reading that fails is skipped, not taken as zero. neuron-monitor's execution error counts are per
captured period ("error counts for the captured period"), and so are taken as they come.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254"
# Straight to IMDS and the VPC's CloudWatch endpoint: no proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
XID_LINE = re.compile(r"NVRM: Xid \(")
NVIDIA_QUERY = "utilization.gpu,ecc.errors.uncorrected.volatile.total"
# neuron-monitor's configuration: one report per period with the groups the metrics come from
# (Neuron documentation, "Neuron Monitor User Guide").
NEURON_MONITOR = "/opt/aws/neuron/bin/neuron-monitor"


# ---------------------------------------------------------------------------------------------------
# Reading the accelerators
# ---------------------------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    """A value of nvidia-smi's CSV output, or None for ``[N/A]`` / ``[Not Supported]``."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_nvidia_smi(output: str) -> tuple[int, float | None, int | None]:
    """nvidia-smi ``--query-gpu=utilization.gpu,ecc... --format=csv,noheader,nounits``: (GPUs seen,
    mean utilization, uncorrected ECC errors since the driver loaded, None where no GPU reports ECC)."""
    utilizations, ecc, reported = [], 0, False
    rows = [row for row in (line.split(",") for line in output.splitlines()) if len(row) >= 2]
    for row in rows:
        utilization, errors = _number(row[0]), _number(row[1])
        if utilization is not None:
            utilizations.append(utilization)
        if errors is not None:
            ecc += int(errors)
            reported = True
    mean = sum(utilizations) / len(utilizations) if utilizations else None
    return len(rows), mean, ecc if reported else None


def count_xid(kernel_log: str) -> int:
    """Xid events (``NVRM: Xid (PCI:...): 79, ...``) in the kernel log of this boot."""
    return sum(1 for line in kernel_log.splitlines() if XID_LINE.search(line))


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def read_nvidia() -> tuple[int, float | None, int | None, int | None]:
    """(GPUs seen, mean utilization, ECC errors since the driver loaded, Xid events since boot); a
    counter that could not be read is None. nvidia-smi that fails sees no GPU."""
    output = _run(["nvidia-smi", f"--query-gpu={NVIDIA_QUERY}", "--format=csv,noheader,nounits"])
    seen, utilization, ecc = parse_nvidia_smi(output) if output is not None else (0, None, None)
    log = _run(["journalctl", "-k", "-b", "-o", "cat", "--no-pager"])
    return seen, utilization, ecc, count_xid(log) if log is not None else None


def parse_neuron_report(report: dict) -> tuple[int, float | None, int, int]:
    """One neuron-monitor report: (devices seen, mean NeuronCore utilization, hardware execution errors in
    the period, uncorrected ECC events). The guide says the execution error counts are per captured
    period; it does not say so of the ECC counters, which are taken as running totals (a per-period count
    goes down to zero between events, and counts again from there).

    Only the cores a runtime uses are listed, so the mean is over every core of the devices seen (an
    idle core counts as 0; ``neuroncore_per_device_count`` counts logical cores already). Hardware info
    with an error, or without a device count (the driver is not loaded), sees no device."""
    hardware = report.get("neuron_hardware_info") or {}
    devices = hardware.get("neuron_device_count")
    if hardware.get("error") or not isinstance(devices, int):
        devices = 0
    utilizations, errors, ecc = [], 0, 0
    for runtime in report.get("neuron_runtime_data") or []:
        data = runtime.get("report") or {}
        cores = (data.get("neuroncore_counters") or {}).get("neuroncores_in_use") or {}
        for core in cores.values():
            value = core.get("neuroncore_utilization")
            if isinstance(value, (int, float)):
                utilizations.append(float(value))
        summary = (data.get("execution_stats") or {}).get("error_summary") or {}
        errors += int(summary.get("hardware") or 0)
    counters = ((report.get("system_data") or {}).get("neuron_hw_counters") or {}).get("neuron_devices") or []
    for device in counters:
        ecc += int(device.get("mem_ecc_uncorrected") or 0) + int(device.get("sram_ecc_uncorrected") or 0)
    per_device = hardware.get("neuroncore_per_device_count")
    cores = devices * per_device if isinstance(per_device, int) else 0
    cores = max(cores, len(utilizations))
    # No runtime loaded: the cores are idle.
    mean = sum(utilizations) / cores if cores else None
    return devices, mean, errors, ecc


# ---------------------------------------------------------------------------------------------------
# Publishing: CloudWatch PutMetricData (Query API), signed with Signature Version 4
# ---------------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    *,
    url: str,
    body: bytes,
    region: str,
    credentials: dict,
    now: datetime.datetime,
    service: str = "monitoring",
) -> dict[str, str]:
    """The headers of a SigV4-signed ``POST url`` with a form body (AWS General Reference,
    "Create a signed AWS API request")."""
    parts = urllib.parse.urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": parts.netloc,
        "x-amz-date": stamp,
    }
    if credentials.get("Token"):
        headers["x-amz-security-token"] = credentials["Token"]
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            parts.path or "/",
            "",
            "".join(f"{name}:{headers[name].strip()}\n" for name in names),
            ";".join(names),
            _sha256(body),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, _sha256(canonical.encode())])
    key = _hmac(("AWS4" + credentials["SecretAccessKey"]).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials['AccessKeyId']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def put_metric_data_body(
    namespace: str, metrics: list[tuple[str, float, str]], dimension_sets: list[dict]
) -> bytes:
    """The form body of PutMetricData: each metric once per dimension set."""
    fields = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": namespace}
    member = 0
    for name, value, unit in metrics:
        for dimensions in dimension_sets:
            member += 1
            prefix = f"MetricData.member.{member}"
            fields[f"{prefix}.MetricName"] = name
            fields[f"{prefix}.Value"] = repr(float(value))
            fields[f"{prefix}.Unit"] = unit
            for index, (key, dimension_value) in enumerate(sorted(dimensions.items()), start=1):
                fields[f"{prefix}.Dimensions.member.{index}.Name"] = key
                fields[f"{prefix}.Dimensions.member.{index}.Value"] = dimension_value
    return urllib.parse.urlencode(fields).encode()


class Instance:
    """The instance's ID and role credentials, from IMDSv2 (a token per call; credentials rotate)."""

    def __init__(self, endpoint: str = IMDS) -> None:
        self.endpoint = endpoint

    def _get(self, path: str) -> str:
        token_request = urllib.request.Request(
            f"{self.endpoint}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
        )
        with _OPENER.open(token_request, timeout=5) as response:
            token = response.read().decode()
        request = urllib.request.Request(
            f"{self.endpoint}{path}", headers={"X-aws-ec2-metadata-token": token}
        )
        with _OPENER.open(request, timeout=5) as response:
            return response.read().decode()

    def instance_id(self) -> str:
        return self._get("/latest/meta-data/instance-id")

    def instance_type(self) -> str:
        return self._get("/latest/meta-data/instance-type")

    def credentials(self) -> dict:
        role = self._get("/latest/meta-data/iam/security-credentials/").splitlines()[0]
        return json.loads(self._get(f"/latest/meta-data/iam/security-credentials/{role}"))


class Baselines:
    """Each counter's previous reading, kept in ``path`` (under /run: cleared at reboot, as the counters
    are), so that a restarted reporter does not report the boot's errors again."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path) as handle:
                self.values = json.load(handle)
        except (OSError, ValueError):
            self.values = {}

    def increase(self, name: str, total: int | None) -> int:
        """The counter's increase since its previous reading; a counter that went down (a driver reloaded,
        the journal vacuumed) starts over; an unread counter (None) adds nothing and keeps its baseline."""
        if total is None:
            return 0
        before = self.values.get(name, 0)
        self.values[name] = total
        try:
            with open(self.path, "w") as handle:
                json.dump(self.values, handle)
        except OSError as error:
            print(
                f"accelerator-health: cannot keep baselines in {self.path}: {error}",
                file=sys.stderr,
                flush=True,
            )
        return total - before if total >= before else total


def expected_for(spec: str, instance_type: str) -> int:
    """The device count ``--expected-devices`` gives this instance type (``type=count,...``), 0 if none."""
    for item in spec.split(","):
        name, _, count = item.partition("=")
        if name == instance_type and count.isdigit():
            return int(count)
    return 0


class Reporter:
    """Publishes one report's metrics, counting errors since the previous report."""

    def __init__(self, args: argparse.Namespace, instance: Instance) -> None:
        self.args = args
        self.instance = instance
        self.instance_id = instance.instance_id()
        self.expected_devices = expected_for(args.expected_devices, instance.instance_type())

    def metrics(self, seen: int | None, utilization: float | None, new_errors: int) -> list:
        """This report's metrics."""
        metrics = [("AcceleratorErrors", new_errors, "Count")]
        if utilization is not None:
            metrics.append(("AcceleratorUtilization", utilization, "Percent"))
        if self.expected_devices and seen is not None:
            metrics.append(("AcceleratorsMissing", max(self.expected_devices - seen, 0), "Count"))
        return metrics

    def report(self, seen: int | None, utilization: float | None, new_errors: int) -> bytes:
        metrics = self.metrics(seen, utilization, new_errors)
        body = put_metric_data_body(
            self.args.namespace,
            metrics,
            [{"Fleet": self.args.fleet}, {"Fleet": self.args.fleet, "InstanceId": self.instance_id}],
        )
        headers = sign(
            url=self.args.endpoint,
            body=body,
            region=self.args.region,
            credentials=self.instance.credentials(),
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        request = urllib.request.Request(self.args.endpoint, data=body, method="POST", headers=headers)
        with _OPENER.open(request, timeout=30) as response:
            response.read()
        return body

    def safely(self, *values) -> None:
        """Report, and keep going if CloudWatch or the metadata service is briefly unreachable."""
        try:
            self.report(*values)
        except Exception as error:
            # CloudWatch's and IMDS's answers say why (AccessDenied, SignatureDoesNotMatch, throttling).
            detail = (
                error.read()[:500].decode(errors="replace")
                if isinstance(error, urllib.error.HTTPError)
                else ""
            )
            print(
                f"accelerator-health: report failed: {error} {detail}".rstrip(), file=sys.stderr, flush=True
            )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("nvidia", "neuron"), required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--endpoint", required=True, help="e.g. https://monitoring.us-east-1.amazonaws.com/")
    parser.add_argument(
        "--expected-devices", default="-", help="type=count,... e.g. g5.48xlarge=8,g5.xlarge=1"
    )
    parser.add_argument("--state", default="/run/accelerator-health.state", help="the counters' baselines")
    parser.add_argument("--period", type=int, default=60)
    parser.add_argument("--imds", default=IMDS)
    parser.add_argument("--neuron-monitor", default=NEURON_MONITOR)
    parser.add_argument("--neuron-config", default="/run/accelerator-health-neuron-monitor.json")
    parser.add_argument("--once", action="store_true", help="one report, then exit (for tests)")
    return parser.parse_args(argv)


def neuron_monitor_config(period: int) -> dict:
    return {
        "period": f"{period}s",
        "neuron_runtimes": [
            {
                "tag_filter": ".*",
                "metrics": [{"type": "neuroncore_counters"}, {"type": "execution_stats"}],
            }
        ],
        "system_metrics": [{"type": "neuron_hw_counters"}],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reporter = Reporter(args, Instance(args.imds))
    if args.kind == "nvidia":
        baselines = Baselines(args.state)
        while True:
            seen, utilization, ecc, xid = read_nvidia()
            errors = baselines.increase("ecc", ecc) + baselines.increase("xid", xid)
            reporter.safely(seen, utilization, errors)
            if args.once:
                return 0
            time.sleep(args.period)
    baselines = Baselines(args.state)
    config = args.neuron_config
    with open(config, "w") as handle:
        json.dump(neuron_monitor_config(args.period), handle)
    monitor = subprocess.Popen([args.neuron_monitor, "-c", config], stdout=subprocess.PIPE, text=True)
    assert monitor.stdout is not None
    for line in monitor.stdout:
        try:
            report = json.loads(line)
        except ValueError:
            continue
        seen, utilization, hardware, ecc = parse_neuron_report(report)
        reporter.safely(seen, utilization, hardware + baselines.increase("neuron_ecc", ecc))
        if args.once:
            monitor.terminate()
            monitor.wait()
            return 0
    # neuron-monitor stopped: exit non-zero so systemd restarts both.
    return 1


if __name__ == "__main__":
    sys.exit(main())
