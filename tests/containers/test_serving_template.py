"""The serving template run as its image runs it: ``entrypoint.py serve`` from the pinned toolkit venv.

Each server is a real process with ``SAGEMAKER_BASE_DIR`` pointing at a temporary ``/opt/ml``; the
model it serves is written by the training template's program, so the two templates are tested as
the pair a user deploys. The servers start once per module.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from containers_support import SERVING, TRAINING, container_env, opt_ml, venv_tool

from mlblueprints.apps.container_contract import SAGEMAKER_PORT, check_serving_container

# A user's code/inference.py: only predict_fn, taking the context to read a request header, and a
# handler error, so the toolkit's defaults and error mapping are both exercised.
USER_INFERENCE = textwrap.dedent(
    """
    def predict_fn(data, model, context):
        if data.get("fail"):
            raise ValueError("asked to fail")
        attributes = context.get_request_header(0, "X-Amzn-Sagemaker-Custom-Attributes")
        return {"sum": sum(data["values"]), "attributes": attributes, "epochs": model["artifact"]["hyperparameters"]["epochs"]}
    """
)


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As gunicorn binds: a previous run's connections in TIME_WAIT do not make the port busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _trained_model(base: Path) -> Path:
    """/opt/ml/model as the training template leaves it (its program, run on a small channel)."""
    opt_ml(base, {"train": {"data.csv": b"a,1\nb,2\n"}}, {"epochs": "2"})
    result = subprocess.run(
        [venv_tool("python"), str(TRAINING / "train.py")],
        env=container_env(SAGEMAKER_BASE_DIR=str(base)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return base / "model"


def _start(base: Path, port: int | None, *args: str) -> Server:
    """The image's entry point; ``port=None`` leaves SAGEMAKER_BIND_TO_PORT unset (the default, 8080)."""
    variables = {"SAGEMAKER_BASE_DIR": str(base)}
    if port is not None:
        variables["SAGEMAKER_BIND_TO_PORT"] = str(port)
    log = base / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [venv_tool("python"), str(SERVING / "entrypoint.py"), *(args or ("serve",))],
            env=container_env(**variables),
            cwd=base,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Server(process, port or SAGEMAKER_PORT, log)


def _wait_ready(server: Server, limit: float = 20.0) -> Server:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"server exited:\n{server.log.read_text()}"
        try:
            if server.request("GET", "/ping")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no 200 from /ping within {limit} s:\n{server.log.read_text()}")


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """The default handlers (on 8080 when it is free, as SageMaker runs them) and a user's inference.py."""
    default_base = tmp_path_factory.mktemp("default")
    _trained_model(default_base)
    user_base = tmp_path_factory.mktemp("user")
    code = _trained_model(user_base) / "code"
    code.mkdir()
    (code / "inference.py").write_text(USER_INFERENCE)
    (code / "requirements.txt").write_text("numpy\n")
    default = _start(default_base, None if _port_is_free(SAGEMAKER_PORT) else _free_port())
    user = _start(user_base, _free_port())
    try:
        yield {"default": _wait_ready(default), "user": _wait_ready(user)}
    finally:
        _stop(default)
        _stop(user)


def test_settings_default_to_the_contract_and_follow_the_toolkit_variables():
    """Port, workers and timeout, read by the server's own code in the pinned toolkit venv."""
    script = textwrap.dedent(
        """
        import json, os, serving_app
        default = serving_app.server_settings()
        os.environ.update(SAGEMAKER_BIND_TO_PORT="9000", SAGEMAKER_MODEL_SERVER_WORKERS="3",
                          SAGEMAKER_MODEL_SERVER_TIMEOUT="30")
        overridden = serving_app.server_settings()
        os.environ["SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"] = "90"
        seconds = serving_app.server_settings()["timeout"]
        gpus = [serving_app.gpu_id_for(age, count) for age, count in ((1, 0), (1, 2), (2, 2), (3, 2))]
        print(json.dumps([default, overridden, seconds, gpus]))
        """
    )
    result = subprocess.run(
        [venv_tool("python"), "-c", script],
        cwd=SERVING,
        env=container_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    default, overridden, seconds, gpus = json.loads(result.stdout)
    assert (default["bind"], default["workers"], default["timeout"]) == (f"0.0.0.0:{SAGEMAKER_PORT}", 1, 60)
    assert (overridden["bind"], overridden["workers"], overridden["timeout"]) == ("0.0.0.0:9000", 3, 30)
    assert seconds == 90
    assert gpus == [None, 0, 1, 0]
    assert default["control_socket_disable"] is True


def test_the_server_passes_every_hosting_contract_check(servers):
    server = servers["default"]
    on_8080 = server.port == SAGEMAKER_PORT
    checks = check_serving_container(server.url, payload=b'{"inputs": "hi"}', require_port_8080=on_8080)
    assert all(check.passed for check in checks), [str(check) for check in checks]
    assert {check.name for check in checks} >= {"connect", "ping", "invocations"}


def test_ping_answers_200_with_an_empty_body(servers):
    assert servers["default"].request("GET", "/ping") == (200, "text/plain", b"")


def test_a_json_request_is_answered_in_json_with_the_trained_model(servers, tmp_path):
    status, content_type, body = servers["default"].request(
        "POST", "/invocations", b'{"inputs": [1, 2]}', {"Content-Type": "application/json; charset=utf-8"}
    )
    assert (status, content_type) == (200, "application/json")
    answer = json.loads(body)
    assert answer["request"] == {"inputs": [1, 2]}
    assert answer["model_files"] == ["model.json"]
    assert answer["model"]["hyperparameters"] == {"epochs": 2}
    assert answer["model"]["channels"]["train"]["lines"] == 2


def test_a_user_inference_py_replaces_predict_fn_and_keeps_the_other_defaults(servers):
    status, content_type, body = servers["user"].request(
        "POST",
        "/invocations",
        b'{"values": [1, 2, 3]}',
        {"Content-Type": "application/json", "X-Amzn-SageMaker-Custom-Attributes": "trace=7"},
    )
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"sum": 6, "attributes": "trace=7", "epochs": 2}


@pytest.mark.parametrize(
    ("server", "method", "path", "headers", "body", "status", "message"),
    [
        (
            "default",
            "POST",
            "/invocations",
            {"Content-Type": "text/csv"},
            b"1,2",
            415,
            "text/csv is not supported",
        ),
        (
            "default",
            "POST",
            "/invocations",
            {"Content-Type": "application/json"},
            b"{oops",
            400,
            "not valid JSON",
        ),
        (
            "default",
            "POST",
            "/invocations",
            {"Content-Type": "application/json", "Accept": "text/csv"},
            b"{}",
            406,
            "Accept text/csv cannot be served",
        ),
        (
            "user",
            "POST",
            "/invocations",
            {"Content-Type": "application/json"},
            b'{"fail": 1}',
            500,
            "asked to fail",
        ),
        ("default", "GET", "/invocations", {}, b"", 405, "Use POST /invocations"),
        ("default", "GET", "/metrics", {}, b"", 404, "use /ping or /invocations"),
    ],
)
def test_errors_get_the_toolkit_status_and_the_message(
    servers, server, method, path, headers, body, status, message
):
    answer_status, _, answer = servers[server].request(method, path, body, headers)
    assert answer_status == status and message in answer.decode()


def test_code_requirements_are_reported_not_installed(servers):
    assert "requirements.txt is not installed" in servers["user"].log.read_text()


def test_sigterm_stops_the_server_with_exit_status_0(tmp_path):
    _trained_model(tmp_path)
    server = _wait_ready(_start(tmp_path, _free_port()))
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0
    assert "Handling signal: term" in server.log.read_text()


def test_ping_answers_503_while_the_model_loads_then_200(tmp_path):
    """The model loads on a thread: the worker answers (and stays alive for gunicorn) meanwhile."""
    code = _trained_model(tmp_path) / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        "import time\n\ndef model_fn(model_dir):\n    time.sleep(1.5)\n    return {}\n"
    )
    server = _start(tmp_path, _free_port())
    try:
        statuses = []
        deadline = time.monotonic() + 20
        while 200 not in statuses and time.monotonic() < deadline:
            try:
                statuses.append(server.request("GET", "/ping")[0])
            except OSError:
                time.sleep(0.05)
        assert statuses[0] == 503 and statuses[-1] == 200, statuses
        assert set(statuses) == {503, 200}
    finally:
        _stop(server)


def test_a_model_that_fails_to_load_stops_the_server_with_the_traceback(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text("{not json")
    server = _start(tmp_path, _free_port())
    try:
        assert server.process.wait(timeout=20) != 0
    finally:
        _stop(server)
    log = server.log.read_text()
    assert "loading the model from" in log and "JSONDecodeError" in log


@pytest.mark.parametrize("args", [("foo",), ("serve", "extra"), ("train",)])
def test_the_entrypoint_accepts_serve_only(tmp_path, args):
    result = subprocess.run(
        [venv_tool("python"), str(SERVING / "entrypoint.py"), *args],
        env=container_env(SAGEMAKER_BASE_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "accepts one argument, 'serve'" in result.stderr and " ".join(args) in result.stderr
