"""The training template run by the real Training Toolkit (``train``), as SageMaker runs it.

``.venv-containers/bin/train`` is the command the toolkit installs and SageMaker invokes
(``docker run <image> train``); the toolkit reads ``SAGEMAKER_BASE_DIR`` for its root
(sagemaker_training/environment.py, default ``/opt/ml``), so a temporary directory laid out like
``/opt/ml`` stands in for the container's.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from containers_support import TRAINING, container_env, opt_ml, venv_tool

TRAIN_FILES = {"part-0.csv": b"a,1\nb,2\n", "nested/part-1.csv": b"c,3\n"}
EVAL_FILES = {"eval.csv": b"x,9\n"}
HYPERPARAMETERS = {"epochs": "3", "learning_rate": "0.1", "optimizer": "sgd"}


def _sha256(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()


def _run(command: list[str], base: Path, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        env=container_env(SAGEMAKER_BASE_DIR=str(base), **variables),
        cwd=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _toolkit_train(base: Path) -> subprocess.CompletedProcess:
    # SAGEMAKER_PROGRAM as the Dockerfiles set it with ENV.
    return _run([venv_tool("train")], base, SAGEMAKER_PROGRAM="train.py")


def test_toolkit_runs_the_program_which_writes_every_channel_and_the_hyperparameters(tmp_path):
    base = opt_ml(
        tmp_path, {"train": TRAIN_FILES, "eval": EVAL_FILES}, HYPERPARAMETERS, {"train": "text/csv"}
    )
    result = _toolkit_train(base)
    assert result.returncode == 0, result.stderr
    model = json.loads((base / "model" / "model.json").read_text())
    assert model["hyperparameters"] == {"epochs": 3, "learning_rate": 0.1, "optimizer": "sgd"}
    assert model["channels"] == {
        "eval": {"files": 1, "bytes": 4, "lines": 1, "sha256": _sha256(EVAL_FILES)},
        "train": {"files": 2, "bytes": 12, "lines": 3, "sha256": _sha256(TRAIN_FILES)},
    }
    assert model["content_types"] == {"eval": None, "train": "text/csv"}
    assert model["trained_on"] == {"host": "localhost", "hosts": ["localhost"]}
    assert not (base / "output" / "failure").exists()


def test_a_missing_required_channel_fails_the_job_with_the_reason_in_output_failure(tmp_path):
    base = opt_ml(tmp_path, {"eval": EVAL_FILES}, HYPERPARAMETERS)
    result = _toolkit_train(base)
    assert result.returncode != 0
    reason = (base / "output" / "failure").read_text()
    assert reason.startswith("Missing required input channel(s): train (the job has: eval)")
    assert "InputDataConfig" in reason and reason in result.stderr
    assert not (base / "model" / "model.json").exists()


def test_required_channels_is_a_hyperparameter(tmp_path):
    base = opt_ml(tmp_path, {"train": TRAIN_FILES}, {"required_channels": "train,validation"})
    result = _toolkit_train(base)
    assert result.returncode != 0
    assert "channel(s): validation (the job has: train)" in (base / "output" / "failure").read_text()


def test_without_the_toolkit_the_program_reads_the_config_files_to_the_same_model(tmp_path):
    """SageMaker writes /opt/ml/input/config/*.json whether or not the toolkit runs: the program
    falls back to them (no SM_* variables set here) and learns exactly what it learns under the toolkit."""
    channels = {"train": TRAIN_FILES, "eval": EVAL_FILES}
    with_toolkit = opt_ml(tmp_path / "toolkit", channels, HYPERPARAMETERS, {"train": "text/csv"})
    bare = opt_ml(tmp_path / "bare", channels, HYPERPARAMETERS, {"train": "text/csv"})
    assert _toolkit_train(with_toolkit).returncode == 0
    result = _run([venv_tool("python"), str(TRAINING / "train.py")], bare)
    assert result.returncode == 0, result.stderr
    assert (bare / "model" / "model.json").read_text() == (with_toolkit / "model" / "model.json").read_text()


def test_sm_channel_variables_name_where_each_channel_is(tmp_path):
    base = opt_ml(tmp_path / "ml", {"train": TRAIN_FILES}, HYPERPARAMETERS)
    elsewhere = tmp_path / "mounted" / "train"
    elsewhere.mkdir(parents=True)
    (elsewhere / "other.csv").write_bytes(b"z\n")
    result = _run(
        [venv_tool("python"), str(TRAINING / "train.py")],
        base,
        SM_CHANNELS='["train"]',
        SM_CHANNEL_TRAIN=str(elsewhere),
        SM_HPS='{"epochs": 7}',
        SM_MODEL_DIR=str(tmp_path / "model-out"),
    )
    assert result.returncode == 0, result.stderr
    model = json.loads((tmp_path / "model-out" / "model.json").read_text())
    assert model["channels"]["train"]["sha256"] == _sha256({"other.csv": b"z\n"})
    assert model["hyperparameters"] == {"epochs": 7}
