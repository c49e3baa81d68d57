"""Helpers for the container-template tests: where the templates and their toolkits live, and /opt/ml.

The toolkits run from ``.venv-containers`` (``make install`` builds it from the templates'
requirements.txt), never from the catalog's venv: the tests exercise the exact pinned versions the
images install. A missing venv fails the tests, it does not skip them. This is not a conftest.py: tests elsewhere
import tests/conftest.py as ``conftest``, which a second conftest module would shadow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVING = REPO / "containers" / "serving"
TRAINING = REPO / "containers" / "training"
VENV_BIN = REPO / ".venv-containers" / "bin"


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{path} is missing: run `make install` (it builds .venv-containers)"
    return str(path)


def container_env(**variables: str) -> dict[str, str]:
    """The environment of a fresh container: none of this machine's SageMaker, SM_* or AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_", "AWS_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, PYTHONUNBUFFERED="1")
    env.update(variables)
    return env


def opt_ml(
    base: Path,
    channels: dict[str, dict[str, bytes]],
    hyperparameters: dict[str, str],
    content_types: dict[str, str] | None = None,
) -> Path:
    """A SageMaker training layout under ``base`` as the service writes it ("How Amazon SageMaker
    Provides Training Information"): config JSON files, one folder per channel, the program in code/.
    Hyperparameter values are strings, as SageMaker writes them."""
    config = base / "input" / "config"
    config.mkdir(parents=True)
    for name, files in channels.items():
        for relative, data in files.items():
            path = base / "input" / "data" / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    input_data_config = {
        name: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        | ({"ContentType": content_types[name]} if content_types and name in content_types else {})
        for name in channels
    }
    (config / "inputdataconfig.json").write_text(json.dumps(input_data_config))
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    # "localhost": the toolkit waits until every host resolves (entry_point._wait_hostname_resolution).
    resource = {"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"}
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    (base / "code").mkdir()
    (base / "code" / "train.py").write_bytes((TRAINING / "train.py").read_bytes())
    (base / "model").mkdir()
    (base / "output").mkdir()
    return base
