"""The template's default handlers: what the Inference Toolkit runs when the model ships no code.

The toolkit's ``Transformer`` looks for ``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn``
(or ``transform_fn``) in the user module, ``inference.py`` in ``<model_dir>/code/`` (the name can be
changed with ``SAGEMAKER_PROGRAM``), and falls back to a ``DefaultInferenceHandler``'s
``default_*`` methods for each one it does not find (sagemaker_inference/transformer.py,
``_validate_user_module_and_set_functions``). The toolkit's own defaults raise ``NotImplementedError``
for ``model_fn`` and ``predict_fn``, because a framework container is expected to supply them.

This template ships no ML framework, so its defaults are framework-free and real: ``model_fn`` loads
``model.json`` (the artifact the training template writes) and lists the model directory, and
``predict_fn`` answers a JSON request with the request and the model it was served by. That proves the
whole path (model archive, endpoint, handler chain) before any framework is added. Replace them by
putting an ``inference.py`` with your own functions in ``code/`` of the model archive, exactly as with
AWS's framework images; any function you leave out keeps the default below.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

from sagemaker_inference import content_types, utils
from sagemaker_inference.default_inference_handler import DefaultInferenceHandler
from sagemaker_inference.errors import GenericInferenceToolkitError

MODEL_FILE = "model.json"
USER_CODE_DIR = "code"


def _media_type(value: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``: parameters do not change the type."""
    return (value or "").split(";", 1)[0].strip().lower()


class JsonModelHandler(DefaultInferenceHandler):
    """JSON in, JSON out, no framework. Errors carry the HTTP status the client should see.

    The toolkit turns an exception into a response with the status of a
    ``BaseInferenceToolkitError`` it is given, and 500 for anything else, including its own
    ``UnsupportedFormatError`` (transformer.py, ``transform``). A request the model cannot read is the
    client's mistake, so these handlers raise ``GenericInferenceToolkitError`` with 415, 400 or 406.
    """

    def default_model_fn(self, model_dir: str, context: Any = None) -> dict:
        root = Path(model_dir)
        files = (
            sorted(
                path.relative_to(root).as_posix()
                for path in root.rglob("*")
                if path.is_file() and path.relative_to(root).parts[0] != USER_CODE_DIR
            )
            if root.is_dir()
            else []
        )
        artifact = root / MODEL_FILE
        # A corrupt model.json fails the load (and the container) instead of serving without it.
        model = json.loads(artifact.read_text()) if artifact.is_file() else None
        return {"files": files, "artifact": model}

    def default_input_fn(self, input_data: Any, content_type: str | None, context: Any = None) -> Any:
        if _media_type(content_type) != content_types.JSON:
            raise GenericInferenceToolkitError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content type {content_type or '(none)'} is not supported: this model reads "
                f"{content_types.JSON}. Send that, or add an input_fn in code/inference.py.",
            )
        try:
            return json.loads(input_data)
        except ValueError as error:
            raise GenericInferenceToolkitError(
                HTTPStatus.BAD_REQUEST, f"The request body is not valid JSON: {error}"
            ) from error

    def default_predict_fn(self, data: Any, model: dict, context: Any = None) -> dict:
        return {"request": data, "model": model["artifact"], "model_files": model["files"]}

    def default_output_fn(self, prediction: Any, accept: str, context: Any = None) -> tuple[str, str]:
        for media_type in map(_media_type, utils.parse_accept(accept)):
            if media_type in (content_types.JSON, content_types.ANY, "application/*"):
                return json.dumps(prediction), content_types.JSON
        raise GenericInferenceToolkitError(
            HTTPStatus.NOT_ACCEPTABLE,
            f"Accept {accept} cannot be served: this model answers in {content_types.JSON}. "
            "Accept that, or add an output_fn in code/inference.py.",
        )
