"""Smoke-test model for the SageMaker PyTorch serving containers (GPU and Neuron).

The example endpoints deploy this instead of a real model, so that a fresh ``cdk deploy`` ends in an
endpoint that answers: it echoes the JSON request and reports which accelerator devices the
container sees. Replace it with your own ``model.tar.gz`` through the ``model_data_url`` setting.

The containers' inference toolkit loads ``code/inference.py`` from the model archive and calls
``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn``.
"""

from __future__ import annotations

import glob
import json
import os

JSON = "application/json"


def model_fn(model_dir: str) -> dict:
    """Load the "model": here, a description of the devices the container was given."""
    return {
        "model_dir": model_dir,
        "neuron_devices": len(glob.glob("/dev/neuron*")),
        "nvidia_devices": len(glob.glob("/dev/nvidia[0-9]*")),
        "variant": os.environ.get("SAGEMAKER_VARIANT_NAME", ""),
    }


def input_fn(request_body: bytes | str, request_content_type: str = JSON) -> object:
    if request_content_type.split(";")[0].strip() != JSON:
        raise ValueError(f"Unsupported content type {request_content_type!r}: send {JSON}.")
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    return json.loads(request_body)


def predict_fn(input_data: object, model: dict) -> dict:
    return {
        "echo": input_data,
        "neuron_devices": model["neuron_devices"],
        "nvidia_devices": model["nvidia_devices"],
    }


def output_fn(prediction: dict, accept: str = JSON) -> tuple[str, str]:
    if accept not in (JSON, "*/*"):
        raise ValueError(f"Unsupported accept type {accept!r}: accept {JSON}.")
    return json.dumps(prediction), JSON
