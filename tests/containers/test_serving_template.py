"""The serving template run as its image runs it: ``entrypoint.py serve`` from the pinned toolkit venv.

Each server is a real process with ``SAGEMAKER_BASE_DIR`` pointing at a temporary ``/opt/ml``; the
model it serves is written by the training template's program, so the two templates are tested as
the pair a user deploys. The servers start once per module, side by side.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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

# A user's code/inference.py for requests in flight together: model_fn counts its calls in a file (a
# worker killed mid-request would be replaced and load the model again), predict_fn says when it
# starts, sleeps as the request asks, and only then reads the request's header through its context;
# input_fn and output_fn speak JSON and CSV, so each request's content types can be told apart.
CONCURRENT_INFERENCE = textwrap.dedent(
    """
    import json, os, time

    BASE = os.environ["SAGEMAKER_BASE_DIR"]

    def model_fn(model_dir):
        with open(os.path.join(BASE, "model_fn_calls"), "a") as calls:
            calls.write(f"{os.getpid()}\\n")
        return {}

    def input_fn(body, content_type):
        if content_type == "text/csv":
            return {"values": [int(value) for value in body.split(",")]}
        return json.loads(body)

    def predict_fn(data, model, context):
        attributes = dict(pair.split("=") for pair in context.get_request_header(0, "X-Amzn-Sagemaker-Custom-Attributes").split(","))
        open(os.path.join(BASE, "predicting-" + attributes["id"]), "w").close()
        time.sleep(float(attributes["sleep"]))
        if data.get("fail"):
            raise ValueError("asked to fail")
        attributes = dict(pair.split("=") for pair in context.get_request_header(0, "X-Amzn-Sagemaker-Custom-Attributes").split(","))
        return {"sum": sum(data["values"]), "id": attributes["id"]}

    def output_fn(prediction, accept):
        if accept == "text/csv":
            return f"{prediction['sum']},{prediction['id']}", "text/csv"
        return json.dumps(prediction), "application/json"
    """
)
# gunicorn's worker timeout in the concurrent server: shorter than its slowest request.
SHORT_TIMEOUT = 2
SLOW_PREDICTION = 3.0


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


def _start(base: Path, port: int | None, *args: str, **settings: str) -> Server:
    """The image's entry point; ``port=None`` leaves SAGEMAKER_BIND_TO_PORT unset (the default, 8080)."""
    variables = {"SAGEMAKER_BASE_DIR": str(base), **settings}
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
    concurrent_base = tmp_path_factory.mktemp("concurrent")
    code = _trained_model(concurrent_base) / "code"
    code.mkdir()
    (code / "inference.py").write_text(CONCURRENT_INFERENCE)
    default = _start(default_base, None if _port_is_free(SAGEMAKER_PORT) else _free_port())
    user = _start(user_base, _free_port())
    concurrent = _start(concurrent_base, _free_port(), SAGEMAKER_MODEL_SERVER_TIMEOUT=str(SHORT_TIMEOUT))
    started = {"default": default, "user": user, "concurrent": concurrent}
    try:
        yield {name: _wait_ready(server) for name, server in started.items()}
    finally:
        for server in started.values():
            _stop(server)


def test_settings_default_to_the_contract_and_follow_the_toolkit_variables():
    """Port, workers, threads and timeout, read by the server's own code in the pinned toolkit venv."""
    script = textwrap.dedent(
        """
        import json, os, serving_app
        serving_app.NEURON_DEVICES = "/nonexistent/neuron[0-9]*"  # as on a GPU or CPU host, wherever this runs
        default = serving_app.server_settings()
        os.environ.update(SAGEMAKER_BIND_TO_PORT="9000", SAGEMAKER_MODEL_SERVER_WORKERS="3",
                          SAGEMAKER_MODEL_SERVER_TIMEOUT="30", SAGEMAKER_MODEL_SERVER_THREADS="8")
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
    # Threads, so /ping is answered while a prediction runs and the timeout is a worker heartbeat.
    assert (default["worker_class"], default["threads"], overridden["threads"]) == ("gthread", 4, 8)
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


def _count_model_loads(server: Server) -> int:
    return len((server.log.parent / "model_fn_calls").read_text().splitlines())


def _wait_for(path: Path, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def test_ping_is_answered_at_once_while_a_long_prediction_runs_past_the_worker_timeout(servers):
    """One request at a time per worker made /ping wait behind predictions, and gunicorn's timeout
    killed the worker mid-request (the replacement reloaded the model and answered 503)."""
    server = servers["concurrent"]
    slow = {}

    def invoke_slowly() -> None:
        slow["answer"] = server.request(
            "POST",
            "/invocations",
            b'{"values": [4, 5]}',
            {
                "Content-Type": "application/json",
                "X-Amzn-SageMaker-Custom-Attributes": f"sleep={SLOW_PREDICTION},id=slow",
            },
        )

    caller = threading.Thread(target=invoke_slowly)
    started = time.monotonic()
    caller.start()
    _wait_for(server.log.parent / "predicting-slow")
    before = time.monotonic()
    assert server.request("GET", "/ping") == (200, "text/plain", b"")
    assert time.monotonic() - before < 1.0
    caller.join(timeout=15)
    assert time.monotonic() - started > SHORT_TIMEOUT + 0.5  # the prediction outlived the timeout...
    assert slow["answer"] == (200, "application/json", b'{"sum": 9, "id": "slow"}')  # ...and finished
    assert _count_model_loads(server) == 1  # no worker was killed and replaced
    log = server.log.read_text()
    assert "Using worker: gthread" in log and "WORKER TIMEOUT" not in log


def test_requests_in_flight_together_each_get_their_own_headers_content_types_and_status(servers):
    server = servers["concurrent"]
    requests = {
        "json": (b'{"values": [1, 2]}', {"Content-Type": "application/json", "Accept": "application/json"}),
        "csv": (b"10,20", {"Content-Type": "text/csv", "Accept": "text/csv"}),
        "fail": (b'{"fail": true}', {"Content-Type": "application/json", "Accept": "application/json"}),
    }

    def invoke(name: str):
        body, headers = requests[name]
        attributes = {"X-Amzn-SageMaker-Custom-Attributes": f"sleep=1,id={name}"}
        return server.request("POST", "/invocations", body, headers | attributes)

    started = time.monotonic()
    with ThreadPoolExecutor(len(requests)) as pool:
        answers = dict(zip(requests, pool.map(invoke, requests), strict=True))
    assert time.monotonic() - started < 2.5  # together: one after another would take 3 s
    assert answers["json"] == (200, "application/json", b'{"sum": 3, "id": "json"}')
    assert answers["csv"] == (200, "text/csv", b"30,csv")
    status, content_type, body = answers["fail"]
    assert (status, content_type) == (500, "text/plain; charset=utf-8") and b"asked to fail" in body
    assert _count_model_loads(server) == 1


def _settings_outcome(
    tmp_path: Path, devices: list[str], *, serve: bool = True, **variables: str
) -> subprocess.CompletedProcess:
    """``entrypoint.py serve`` (or only ``server_settings()``) with a fake /dev holding ``devices``.

    Serving is asked for only where the settings are refused: the entry point then exits at once."""
    dev = tmp_path / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    for device in devices:
        (dev / device).touch()
    script = textwrap.dedent(
        """
        import sys, serving_app, entrypoint
        serving_app.NEURON_DEVICES = sys.argv[1]
        if sys.argv[2] == "serve":
            sys.exit(entrypoint.main(["serve"]))
        serving_app.server_settings()
        """
    )
    return subprocess.run(
        [venv_tool("python"), "-c", script, str(dev / "neuron[0-9]*"), "serve" if serve else "settings"],
        cwd=SERVING,
        # A free port: a server that did not refuse must not collide with the others (it times out instead).
        env=container_env(
            SAGEMAKER_BASE_DIR=str(tmp_path), SAGEMAKER_BIND_TO_PORT=str(_free_port()), **variables
        ),
        capture_output=True,
        text=True,
        timeout=15,
    )


def test_several_workers_on_neuron_devices_are_refused_with_one_worker_per_container_advice(tmp_path):
    """The Neuron runtime gives every NeuronCore to the first worker; the others could not load."""
    refused = _settings_outcome(tmp_path, ["neuron0", "neuron1"], SAGEMAKER_MODEL_SERVER_WORKERS="2")
    assert refused.returncode == 2, refused.stderr
    assert "error: SAGEMAKER_MODEL_SERVER_WORKERS=2 with Neuron devices" in refused.stderr
    assert "neuron0" in refused.stderr and "Use SAGEMAKER_MODEL_SERVER_WORKERS=1" in refused.stderr
    assert "Traceback" not in refused.stderr
    one_worker = _settings_outcome(tmp_path, ["neuron0"], SAGEMAKER_MODEL_SERVER_WORKERS="1", serve=False)
    no_neuron = _settings_outcome(tmp_path / "gpu", [], SAGEMAKER_MODEL_SERVER_WORKERS="2", serve=False)
    assert (one_worker.returncode, no_neuron.returncode) == (0, 0), one_worker.stderr + no_neuron.stderr


def test_fewer_than_two_threads_are_refused_together_with_every_other_problem(tmp_path):
    refused = _settings_outcome(
        tmp_path, ["neuron0"], SAGEMAKER_MODEL_SERVER_WORKERS="2", SAGEMAKER_MODEL_SERVER_THREADS="1"
    )
    assert refused.returncode == 2
    assert "SAGEMAKER_MODEL_SERVER_THREADS=1 is not a whole number of at least 2" in refused.stderr
    assert "SAGEMAKER_MODEL_SERVER_WORKERS=2 with Neuron devices" in refused.stderr


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
