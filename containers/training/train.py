"""The training template's user program: reads what SageMaker hands a training job, writes a model.

SageMaker runs ``docker run <image> train``; the Training Toolkit's ``train`` command runs the program
named by ``SAGEMAKER_PROGRAM`` (this file) from ``/opt/ml/code``, with the job described in ``SM_*``
variables (sagemaker_training/environment.py, ``to_env_vars``). SageMaker itself writes the same facts
to ``/opt/ml/input/config/`` ("How Amazon SageMaker Provides Training Information",
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html),
so this program reads the variables when the toolkit set them and those files when not: it runs the
same under the toolkit, in a bare container, and on a laptop with ``SAGEMAKER_BASE_DIR`` set.

It ships no ML framework; what it "learns" is a fingerprint of every channel (files, bytes, lines,
SHA-256), saved with the hyperparameters as ``model.json`` in the model directory, which SageMaker
uploads as ``model.tar.gz`` and the serving template's default ``model_fn`` loads. Replace
``fit`` with real training and keep the rest.

A required channel that is missing (hyperparameter ``required_channels``, comma-separated, default
``train``) fails the job with the reason in ``/opt/ml/output/failure``, whose first 1024 characters SageMaker
returns as the job's ``FailureReason`` ("How Amazon SageMaker Processes Training Output",
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html). The
toolkit keeps a failure file its program wrote (sagemaker_training/files.py, ``write_failure_file``)
instead of its own generic "ExecuteUserScriptError"; the reason goes to stderr too, for the log.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
MODEL_FILE = "model.json"
DEFAULT_REQUIRED_CHANNELS = "train"


class MissingChannelError(Exception):
    pass


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _decode(value: Any) -> Any:
    """SageMaker writes every hyperparameter as a string; decode JSON values as the toolkit does."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def job_description() -> dict[str, Any]:
    """Hyperparameters, channels and configs, from the toolkit's SM_* variables or /opt/ml/input/config."""
    config_dir = Path(os.environ.get("SM_INPUT_CONFIG_DIR", BASE_DIR / "input" / "config"))
    input_data_config = _read_json(config_dir / "inputdataconfig.json")
    if "SM_HPS" in os.environ:
        hyperparameters = json.loads(os.environ["SM_HPS"])
    else:
        raw = _read_json(config_dir / "hyperparameters.json")
        hyperparameters = {key: _decode(value) for key, value in raw.items()}
    names = json.loads(os.environ["SM_CHANNELS"]) if "SM_CHANNELS" in os.environ else list(input_data_config)
    channels = {
        name: Path(os.environ.get(f"SM_CHANNEL_{name.upper()}", BASE_DIR / "input" / "data" / name))
        for name in names
    }
    return {
        "hyperparameters": hyperparameters,
        "channels": channels,
        "input_data_config": input_data_config,
        "resource_config": _read_json(config_dir / "resourceconfig.json"),
        "model_dir": Path(os.environ.get("SM_MODEL_DIR", BASE_DIR / "model")),
        "output_dir": Path(os.environ.get("SM_OUTPUT_DIR", BASE_DIR / "output")),
    }


def required_channels(hyperparameters: dict[str, Any]) -> list[str]:
    value = str(hyperparameters.get("required_channels", DEFAULT_REQUIRED_CHANNELS))
    return [name.strip() for name in value.split(",") if name.strip()]


def fingerprint(directory: Path) -> dict[str, Any]:
    """What this template learns from a channel: its size and a digest of names and contents."""
    digest = hashlib.sha256()
    files = lines = size = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + data)
        files, size, lines = files + 1, size + len(data), lines + data.count(b"\n")
    return {"files": files, "bytes": size, "lines": lines, "sha256": digest.hexdigest()}


def fit(job: dict[str, Any]) -> dict[str, Any]:
    missing = [
        name
        for name in required_channels(job["hyperparameters"])
        if name not in job["channels"] or not job["channels"][name].is_dir()
    ]
    if missing:
        given = ", ".join(sorted(job["channels"])) or "none"
        raise MissingChannelError(
            f"Missing required input channel(s): {', '.join(missing)} (the job has: {given}). Add them to "
            "the training job's InputDataConfig, or change the hyperparameter required_channels."
        )
    resources = job["resource_config"]
    return {
        "hyperparameters": job["hyperparameters"],
        "channels": {name: fingerprint(path) for name, path in sorted(job["channels"].items())},
        "content_types": {
            name: config.get("ContentType") for name, config in sorted(job["input_data_config"].items())
        },
        "trained_on": {"host": resources.get("current_host"), "hosts": resources.get("hosts")},
    }


def main() -> int:
    job = job_description()
    try:
        model = fit(job)
    except MissingChannelError as error:
        job["output_dir"].mkdir(parents=True, exist_ok=True)
        (job["output_dir"] / "failure").write_text(str(error))
        print(f"error: {error}", file=sys.stderr)
        return 1
    job["model_dir"].mkdir(parents=True, exist_ok=True)
    (job["model_dir"] / MODEL_FILE).write_text(json.dumps(model, indent=2) + "\n")
    print(f"wrote {job['model_dir'] / MODEL_FILE}: channels {', '.join(model['channels']) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
