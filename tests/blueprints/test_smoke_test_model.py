"""The bundled smoke-test model: its archive layout, and its handlers run as a local process.

No Docker engine runs here, so the handlers are exercised the way the SageMaker PyTorch inference
toolkit calls them (model_fn, input_fn, predict_fn, output_fn), in a separate Python process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

from mlblueprints.blueprints.realtime_endpoint.stack import SMOKE_TEST_MODEL
from mlblueprints.constructs.sagemaker.model_data import pack_directory

DRIVER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("inference", sys.argv[1])
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)
model = handler.model_fn(sys.argv[2])
data = handler.input_fn(b'{"inputs": "ping"}', "application/json")
body, content_type = handler.output_fn(handler.predict_fn(data, model), "application/json")
print(json.dumps({"body": json.loads(body), "content_type": content_type}))
"""


def test_archive_has_the_layout_the_serving_toolkit_loads():
    archive = pack_directory(SMOKE_TEST_MODEL)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert "code/inference.py" in names
        assert all(member.mtime == 0 and member.uid == 0 for member in tar.getmembers())


def test_archive_is_reproducible():
    assert pack_directory(SMOKE_TEST_MODEL).read_bytes() == pack_directory(SMOKE_TEST_MODEL).read_bytes()


def test_handlers_answer_a_json_request_in_a_local_process(tmp_path):
    archive = pack_directory(SMOKE_TEST_MODEL)
    model_dir = tmp_path / "model"
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(model_dir / "code" / "inference.py"), str(model_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    response = json.loads(result.stdout)
    assert response["content_type"] == "application/json"
    assert response["body"]["echo"] == {"inputs": "ping"}
    assert isinstance(response["body"]["neuron_devices"], int)


def test_handlers_refuse_other_content_types(tmp_path):
    driver = DRIVER.replace('"application/json")\nbody', '"text/csv")\nbody')
    result = subprocess.run(
        [sys.executable, "-c", driver, str(SMOKE_TEST_MODEL / "code" / "inference.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Unsupported content type 'text/csv'" in result.stderr
