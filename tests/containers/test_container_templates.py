"""The templates' Dockerfiles and pins: what can be checked without building an image."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from containers_support import SERVING, TRAINING, venv_tool

from mlblueprints.apps.dockerfile_lint import lint_dockerfile

DOCKERFILES = [
    (SERVING / "Dockerfile.gpu", "serving"),
    (SERVING / "Dockerfile.neuron", "serving"),
    (TRAINING / "Dockerfile.gpu", "training"),
    (TRAINING / "Dockerfile.neuron", "training"),
]
IDS = [f"{path.parent.name}/{path.name}" for path, _ in DOCKERFILES]


def _instructions(path, name: str) -> list[str]:
    """Arguments of every ``name`` instruction, continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    return [m[1].strip() for m in re.finditer(rf"^\s*{name}\s+(.+)$", text, re.MULTILINE | re.IGNORECASE)]


@pytest.mark.parametrize(("dockerfile", "kind"), DOCKERFILES, ids=IDS)
def test_dockerfiles_pass_the_container_contract_linter(dockerfile, kind):
    assert lint_dockerfile(dockerfile.read_text(), kind=kind) == []


@pytest.mark.parametrize(("dockerfile", "kind"), DOCKERFILES, ids=IDS)
def test_every_base_image_is_pinned_to_a_tag(dockerfile, kind):
    images = [args.split()[0] for args in _instructions(dockerfile, "FROM")]
    assert images
    for image in images:
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{image}: no tag"
        assert tag != "latest" and "$" not in image, f"{image}: not pinned"


def test_gpu_images_are_cuda_runtime_on_ubuntu_22_04_and_neuron_images_are_aws_neuron_dlcs():
    for dockerfile, kind in DOCKERFILES:
        images = {args.split()[0] for args in _instructions(dockerfile, "FROM")}
        if dockerfile.name == "Dockerfile.gpu":
            assert images == {"nvidia/cuda:12.8.1-runtime-ubuntu22.04"}
        else:
            repository = "pytorch-inference-neuronx" if kind == "serving" else "pytorch-training-neuronx"
            (image,) = images
            assert image.startswith(f"public.ecr.aws/neuron/{repository}:2.9.0-neuronx-py312-sdk2.3")


@pytest.mark.parametrize(("dockerfile", "kind"), DOCKERFILES, ids=IDS)
def test_every_copied_file_exists_in_the_template(dockerfile, kind):
    for args in _instructions(dockerfile, "COPY"):
        if args.startswith("--from="):
            continue
        *sources, _ = args.split()
        for source in sources:
            assert (dockerfile.parent / source).is_file(), f"{dockerfile.name}: COPY {source} is missing"


def test_requirements_are_pinned_and_are_what_the_test_venv_runs():
    pins = {}
    for requirements in (SERVING / "requirements.txt", TRAINING / "requirements.txt"):
        for line in requirements.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, separator, version = line.partition("==")
                assert separator and version, f"{requirements}: {line} is not pinned with =="
                pins[name] = version
    assert pins == {"sagemaker-inference": "1.10.1", "gunicorn": "27.0.1", "sagemaker-training": "5.1.4"}
    script = f"import json, importlib.metadata as m; print(json.dumps({{n: m.version(n) for n in {list(pins)!r}}}))"
    installed = subprocess.run(
        [venv_tool("python"), "-c", script], capture_output=True, text=True, timeout=30
    )
    assert json.loads(installed.stdout) == pins, installed.stderr
