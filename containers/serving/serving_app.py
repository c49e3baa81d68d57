"""SageMaker's hosting contract on gunicorn, with the Inference Toolkit's handler layer behind it.

SageMaker sends ``GET /ping`` and ``POST /invocations`` to port 8080 and wants ``/ping`` to answer
200 with an empty body once the container is ready ("Use Your Own Inference Code with Hosting
Services", https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
The toolkit's own server, multi-model-server, answers ``/ping`` with ``{"status": "Healthy"}``: a
body the contract does not allow. So the toolkit is used for what it defines well, the handler layer
(``Transformer``: user module discovery, ``model_fn``/``input_fn``/``predict_fn``/``output_fn``,
errors to HTTP statuses), and the HTTP side is a plain WSGI app on gunicorn.

Workers are processes, each with its own copy of the model; each worker serves requests on a few threads
(gunicorn's ``gthread`` worker), which share that copy. Threads are what keep the endpoint healthy: with
one request at a time per worker, SageMaker's ``/ping`` waited behind every prediction in flight, and
health checks failed during long ones. So a worker answers ``/ping`` while other requests predict, and
the user's ``input_fn``/``predict_fn``/``output_fn`` may run on several threads of a worker at once: they
must be thread-safe (or the model wrapped in a lock by the user's code).

Settings come from the variables the toolkit reads (sagemaker_inference/environment.py and
parameters.py), with its defaults: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS``
(here 1, not multi-model-server's one per GPU or CPU: every worker loads its own copy of the model, and one
accelerator holds one copy safely), ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s), ``SAGEMAKER_BASE_DIR``
(``/opt/ml``; the model is read from ``<base>/model``); and one of this server's own,
``SAGEMAKER_MODEL_SERVER_THREADS`` (threads per worker, 4). The timeout is not a limit on a request:
with ``gthread`` it is gunicorn's worker heartbeat (a worker whose main loop stops answering the arbiter
for that long is killed and replaced), and a worker's main loop keeps beating while its threads predict.
SageMaker bounds invocations itself: 60 s on a real-time endpoint, and ``InvocationsTimeoutInSeconds``
(600 s by default, up to 3600 s) on an asynchronous one (AsyncInferenceConfig's ClientConfig).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from sagemaker_inference import environment
from sagemaker_inference.transformer import Transformer
from serving_handler import USER_CODE_DIR, JsonModelHandler

log = logging.getLogger("serving")

DEFAULT_WORKERS = 1
THREADS_VARIABLE = "SAGEMAKER_MODEL_SERVER_THREADS"
# A worker answers /ping only from a free thread, so with 4 it stays healthy while up to 3 predictions
# run. More threads mean more predictions at once on one copy of the model and one accelerator, each
# with its own inputs and activations in device memory (and the GIL serializing their Python parts),
# so the default stays small; raise it for handlers that mostly wait (I/O, remote calls).
DEFAULT_THREADS = 4
MIN_THREADS = 2  # one prediction and /ping
NVIDIA_DEVICES = "/dev/nvidia[0-9]*"
NEURON_DEVICES = "/dev/neuron[0-9]*"
StartResponse = Callable[..., Any]


class ServerSettingsError(ValueError):
    """Settings the server cannot run with; the message names each one, why, and what to set instead."""


def gpu_id_for(worker_age: int, gpu_count: int) -> int | None:
    """The GPU a worker should use, round-robin as multi-model-server assigns them; None without GPUs.

    gunicorn numbers workers by ``age`` (1, 2, ... in spawn order, a replacement gets a new number),
    which spreads workers over the GPUs; frameworks read the result from
    ``context.system_properties["gpu_id"]``, as in AWS's framework toolkits.
    """
    return (worker_age - 1) % gpu_count if gpu_count > 0 else None


def visible_gpus() -> int:
    """NVIDIA GPUs the container was given: the NVIDIA container runtime adds one /dev/nvidiaN each."""
    return len(glob.glob(NVIDIA_DEVICES))


def visible_neuron_devices() -> list[str]:
    """Neuron devices (Inferentia/Trainium chips) the container was given: one /dev/neuronN each."""
    return sorted(glob.glob(NEURON_DEVICES))


def _threads(problems: list[str]) -> int:
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return DEFAULT_THREADS
    if not value.isdigit() or int(value) < MIN_THREADS:
        problems.append(
            f"{THREADS_VARIABLE}={value} is not a whole number of at least {MIN_THREADS}: a worker needs "
            f"one thread to predict and one to answer SageMaker's /ping meanwhile. Unset it for "
            f"{DEFAULT_THREADS}."
        )
        return DEFAULT_THREADS
    return int(value)


def server_settings() -> dict[str, Any]:
    """gunicorn's settings from the toolkit's environment variables (read when called).

    Raises ServerSettingsError naming every setting the server cannot run with.
    """
    toolkit = environment.Environment()
    problems: list[str] = []
    workers = int(toolkit.model_server_workers or DEFAULT_WORKERS)
    threads = _threads(problems)
    neuron_devices = visible_neuron_devices()
    if workers > 1 and neuron_devices:
        # The Neuron runtime reserves every NeuronCore it can see for the first process that starts
        # it, and another process cannot use a reserved core until that one ends; processes share an
        # instance only with disjoint NEURON_RT_VISIBLE_CORES ranges ("Neuron Runtime configuration",
        # NeuronCore allocation, https://awsdocs-neuron.readthedocs-hosted.com/en/latest/neuron-runtime/
        # guides/configuration-guide.html). Splitting cores here would need the number of cores per
        # device (2 on Inferentia2 and Trainium1, more on Trainium2, and set by the logical-core
        # size) and the cores each model copy needs (its tensor-parallel degree), which the container
        # does not know; a wrong split fails at load or idles cores. So one worker per container.
        problems.append(
            f"SAGEMAKER_MODEL_SERVER_WORKERS={workers} with Neuron devices ({', '.join(neuron_devices)}): "
            "the Neuron runtime gives all NeuronCores to the first worker and the others cannot load the "
            "model. Use SAGEMAKER_MODEL_SERVER_WORKERS=1 (one worker per container on Neuron; it serves "
            f"{threads} requests at once on its threads), and more instances or inference components "
            "for more model copies."
        )
    if problems:
        raise ServerSettingsError("\n".join(problems))
    return {
        "bind": f"0.0.0.0:{toolkit.inference_http_port}",
        "workers": workers,
        # Threads answer /ping while others predict, and make the timeout a heartbeat of the worker's
        # main loop, not a limit on a request (see the module docstring).
        "worker_class": "gthread",
        "threads": threads,
        # The toolkit lets SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS win when set (model_server.py).
        "timeout": toolkit.model_server_timeout_seconds or toolkit.model_server_timeout,
        "accesslog": "-",
        "errorlog": "-",
        # gunicorn 27's runtime-management socket: nothing in the contract uses it, and it would be one
        # more way into the container.
        "control_socket_disable": True,
    }


class ModelServerContext:
    """The part of multi-model-server's ``Context`` that ``Transformer.transform`` uses, for one request.

    ``transform(data, context)`` reads ``context.system_properties["model_dir"]``, the request headers
    from ``context.request_processor[0].get_request_properties()``, and answers through
    ``set_response_content_type(0, ...)`` and ``set_response_status(code=..., phrase=...)``
    (sagemaker_inference/transformer.py). Requests run on several threads at once, so each one gets its
    own context: the headers, status and content type of one request are never those of another. The
    worker's ``system_properties`` are shared by all its requests and read-only.
    """

    def __init__(self, system_properties: Mapping[str, Any], headers: dict[str, str]) -> None:
        self.system_properties = system_properties
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


class RequestScopedTransformer(Transformer):
    """The toolkit's ``Transformer``, handing each handler function the context of its own request.

    ``transform`` reads headers from and writes the status to the context it is given, but handler
    functions that take a ``context`` argument get the one the transformer kept from
    ``validate_and_initialize`` (``self._context`` in ``_run_handler_function``, transformer.py 1.10.1):
    one object for every request. Here ``_context`` is the context of the request the calling thread is
    serving, and the load context (the one ``model_fn`` gets) outside a request.
    """

    def __init__(self, default_inference_handler: Any) -> None:
        self._request = threading.local()
        self._load_context: Any = None
        super().__init__(default_inference_handler=default_inference_handler)

    @property  # type: ignore[override]
    def _context(self) -> Any:
        return getattr(self._request, "context", self._load_context)

    @_context.setter
    def _context(self, value: Any) -> None:  # the toolkit's own assignments set the load context
        self._load_context = value

    def transform(self, data: list[dict[str, Any]], context: ModelServerContext) -> list[Any]:
        self._request.context = context
        try:
            return super().transform(data, context)
        finally:
            del self._request.context


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
    """The WSGI app of one worker, shared by its threads: loads the model once, in the background.

    Loading runs on a thread so the worker keeps answering (``/ping`` with 503 until the model is
    in) and keeps telling gunicorn it is alive: a load longer than the worker timeout must not get
    the worker killed and restarted, forever. A load that fails ends the whole server with gunicorn's
    "App failed to load" status, so the container exits with the traceback in its log (CloudWatch)
    rather than answering 503 until SageMaker gives up.
    """

    def __init__(self, model_dir: str, gpu_id: int | None) -> None:
        self.model_dir = model_dir
        self.system_properties = MappingProxyType({"model_dir": model_dir, "gpu_id": gpu_id, "batch_size": 1})
        self.transformer = RequestScopedTransformer(default_inference_handler=JsonModelHandler())
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
            self.transformer.validate_and_initialize(
                model_dir=self.model_dir, context=ModelServerContext(self.system_properties, {})
            )
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
        context = ModelServerContext(self.system_properties, _request_headers(environ))
        # On an error the toolkit sets the status on the context and returns the message.
        (result,) = self.transformer.transform([{"body": body}], context)
        status = context.response_status
        content_type = context.response_content_type
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
    """gunicorn run in-process (its "custom application" API), so this process is the arbiter.

    Raises ServerSettingsError before anything starts when the settings cannot work.
    """

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
        # Called once in each worker (no preload), after the fork and before its threads serve:
        # each worker has its own model, which its threads share.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        return ModelServer(environment.model_dir, gpu_id_for(self.worker_age, self.gpu_count))
