"""SageMaker's hosting contract on gunicorn, with the Inference Toolkit's handler layer behind it.

SageMaker sends ``GET /ping`` and ``POST /invocations`` to port 8080 and wants ``/ping`` to answer
200 with an empty body once the container is ready ("Use Your Own Inference Code with Hosting
Services", https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
The toolkit's own server, multi-model-server, answers ``/ping`` with ``{"status": "Healthy"}``: a
body the contract does not allow. So the toolkit is used for what it defines well, the handler layer
(``Transformer``: user module discovery, ``model_fn``/``input_fn``/``predict_fn``/``output_fn``,
errors to HTTP statuses), and the HTTP side is a plain WSGI app on gunicorn.

Settings come from the variables the toolkit reads (sagemaker_inference/environment.py and
parameters.py), with its defaults: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS``
(here 1, not multi-model-server's one per GPU or CPU: every worker loads its own copy of the model, and one
accelerator holds one copy safely), ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s, also SageMaker's limit
for an invocation), ``SAGEMAKER_BASE_DIR`` (``/opt/ml``; the model is read from ``<base>/model``).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from sagemaker_inference import environment
from sagemaker_inference.transformer import Transformer
from serving_handler import USER_CODE_DIR, JsonModelHandler

log = logging.getLogger("serving")

DEFAULT_WORKERS = 1
StartResponse = Callable[..., Any]


def gpu_id_for(worker_age: int, gpu_count: int) -> int | None:
    """The GPU a worker should use, round-robin as multi-model-server assigns them; None without GPUs.

    gunicorn numbers workers by ``age`` (1, 2, ... in spawn order, a replacement gets a new number),
    which spreads workers over the GPUs; frameworks read the result from
    ``context.system_properties["gpu_id"]``, as in AWS's framework toolkits.
    """
    return (worker_age - 1) % gpu_count if gpu_count > 0 else None


def visible_gpus() -> int:
    """NVIDIA GPUs the container was given: the NVIDIA container runtime adds one /dev/nvidiaN each."""
    return len(glob.glob("/dev/nvidia[0-9]*"))


def server_settings() -> dict[str, Any]:
    """gunicorn's settings from the toolkit's environment variables (read when called)."""
    toolkit = environment.Environment()
    return {
        "bind": f"0.0.0.0:{toolkit.inference_http_port}",
        "workers": int(toolkit.model_server_workers or DEFAULT_WORKERS),
        # The toolkit lets SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS win when set (model_server.py).
        "timeout": toolkit.model_server_timeout_seconds or toolkit.model_server_timeout,
        "worker_class": "sync",
        "accesslog": "-",
        "errorlog": "-",
        # gunicorn 27's runtime-management socket: nothing in the contract uses it, and it would be one
        # more way into the container.
        "control_socket_disable": True,
    }


class ModelServerContext:
    """The part of multi-model-server's ``Context`` that ``Transformer.transform`` uses, for one worker.

    ``transform(data, context)`` reads ``context.system_properties["model_dir"]``, the request headers
    from ``context.request_processor[0].get_request_properties()``, and answers through
    ``set_response_content_type(0, ...)`` and ``set_response_status(code=..., phrase=...)``
    (sagemaker_inference/transformer.py). The toolkit keeps the context it was initialized with and
    passes that one to handler functions that take a ``context`` argument; multi-model-server reuses
    one context per worker and swaps its ``request_processor`` per request, and so does this class, so
    a user's ``predict_fn(data, model, context)`` sees the current request's headers. A sync gunicorn
    worker serves one request at a time, so one mutable context per worker is safe.
    """

    def __init__(self, model_dir: str, gpu_id: int | None) -> None:
        self.system_properties = {"model_dir": model_dir, "gpu_id": gpu_id, "batch_size": 1}
        self.begin_request({})

    def begin_request(self, headers: dict[str, str]) -> None:
        self.request_processor = [RequestProcessor(headers)]
        self.response_status = HTTPStatus.OK.value
        self.response_content_type: str | None = None

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.response_content_type = value

    def get_response_content_type(self, idx: int) -> str | None:
        return self.response_content_type

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.response_status = int(code)

    def get_request_header(self, idx: int, key: str) -> str | None:
        return self.request_processor[idx].get_request_property(key)


class RequestProcessor:
    """multi-model-server's per-request view of the headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self._headers

    def get_request_property(self, key: str) -> str | None:
        return self._headers.get(key)


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """WSGI's HTTP_X_Y / CONTENT_TYPE keys as the header names clients send (X-Y, Content-Type)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        headers[name.replace("_", "-").title()] = value
    return headers


def _as_bytes(payload: Any) -> bytes:
    """A handler's result as a body: bytes as they are, text as UTF-8, anything else as JSON."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload).encode("utf-8")


class ModelServer:
    """The WSGI app of one worker: loads the model in the background, then serves it.

    Loading runs on a thread so the worker keeps answering (``/ping`` with 503 until the model is
    in) and keeps telling gunicorn it is alive: a load in the worker's main thread longer than the
    worker timeout would get the worker killed and restarted, forever. A load that fails ends the
    whole server with gunicorn's "App failed to load" status, so the container exits with the
    traceback in its log (CloudWatch) rather than answering 503 until SageMaker gives up.
    """

    def __init__(self, model_dir: str, gpu_id: int | None) -> None:
        self.model_dir = model_dir
        self.context = ModelServerContext(model_dir, gpu_id)
        self.transformer = Transformer(default_inference_handler=JsonModelHandler())
        self.ready = threading.Event()
        threading.Thread(target=self._load, name="model-loader", daemon=True).start()

    def _load(self) -> None:
        # The toolkit puts <model_dir>/code on PYTHONPATH before its workers start
        # (default_handler_service.py); in a running process that is sys.path.
        sys.path.insert(0, os.path.join(self.model_dir, USER_CODE_DIR))
        requirements = os.path.join(self.model_dir, USER_CODE_DIR, "requirements.txt")
        if os.path.exists(requirements):
            log.warning(
                "%s is not installed: the toolkit's multi-model-server would pip-install it at start, "
                "which fails on endpoints with network isolation. Install it in the image instead.",
                requirements,
            )
        try:
            self.transformer.validate_and_initialize(model_dir=self.model_dir, context=self.context)
        except BaseException:
            log.exception("loading the model from %s failed", self.model_dir)
            logging.shutdown()
            os._exit(Arbiter.APP_LOAD_ERROR)
        log.info("model loaded from %s", self.model_dir)
        self.ready.set()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        routes = {"/ping": "GET", "/invocations": "POST"}
        if path not in routes:
            return _respond(start_response, HTTPStatus.NOT_FOUND, b"Not found: use /ping or /invocations\n")
        if method != routes[path]:
            return _respond(
                start_response, HTTPStatus.METHOD_NOT_ALLOWED, f"Use {routes[path]} {path}\n".encode()
            )
        if not self.ready.is_set():
            body = b"" if path == "/ping" else b"The model is still loading\n"
            return _respond(start_response, HTTPStatus.SERVICE_UNAVAILABLE, body)
        if path == "/ping":
            return _respond(start_response, HTTPStatus.OK, b"")  # the contract: 200, empty body
        return self._invoke(environ, start_response)

    def _invoke(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.context.begin_request(_request_headers(environ))
        # On an error the toolkit sets the status on the context and returns the message.
        (result,) = self.transformer.transform([{"body": body}], self.context)
        status = self.context.response_status
        content_type = self.context.response_content_type
        if content_type is None or status != HTTPStatus.OK:
            content_type = "text/plain; charset=utf-8"
        return _respond(start_response, status, _as_bytes(result), content_type)


def _respond(
    start_response: StartResponse, status: int, body: bytes, content_type: str = "text/plain"
) -> list[bytes]:
    # The standard reason phrase: the toolkit's phrase is the whole error message, which belongs in the body.
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status a user's handler chose that http.HTTPStatus does not list
        phrase = "Error"
    start_response(
        f"{int(status)} {phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


class ServingApplication(BaseApplication):
    """gunicorn run in-process (its "custom application" API), so this process is the arbiter."""

    def __init__(self) -> None:
        self.settings = server_settings()
        self.gpu_count = visible_gpus()
        self.worker_age = 0
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)
        self.cfg.set("post_fork", self._post_fork)

    def _post_fork(self, server: Arbiter, worker: Any) -> None:
        self.worker_age = worker.age  # in the worker, before load()

    def load(self) -> ModelServer:
        # Called in each worker (no preload), after the fork: each worker has its own model.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        return ModelServer(environment.model_dir, gpu_id_for(self.worker_age, self.gpu_count))
