"""Check a running serving container against SageMaker's hosting contract, before it is pushed.

    python -m mlblueprints.apps.container_contract http://localhost:8080 --payload '{"inputs": "hi"}'

SageMaker sends requests to port 8080 of the container ("Custom Inference Code with Hosting
Services", https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html): it
must accept a socket connection within 250 ms, answer ``GET /ping`` with 200 and an empty body, and
answer ``POST /invocations`` within 60 seconds ("A customer's model containers must respond to
requests within 60 seconds", InvokeEndpoint API reference). Each check is reported with its measured
time; the command exits 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Check", "check_serving_container", "main"]

SAGEMAKER_PORT = 8080
CONNECT_LIMIT_S = 0.25
INVOKE_LIMIT_S = 60.0
# The contract asks for a prompt 200 to /ping; this checker's default bound, adjustable.
PING_LIMIT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    seconds: float | None
    detail: str

    def __str__(self) -> str:
        took = f"{self.seconds * 1000:.0f} ms" if self.seconds is not None else "-"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name:<12} {took:>9}  {self.detail}"


def check_serving_container(
    url: str,
    *,
    payload: bytes = b"{}",
    content_type: str = "application/json",
    connect_limit: float = CONNECT_LIMIT_S,
    ping_limit: float = PING_LIMIT_S,
    invoke_limit: float = INVOKE_LIMIT_S,
    require_port_8080: bool = True,
) -> list[Check]:
    """Run the contract's checks against ``url`` (``http://host:port``); every check, passed or not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 80
    checks = []
    if require_port_8080:
        checks.append(
            Check(
                "port",
                port == SAGEMAKER_PORT,
                None,
                f"{port}"
                + (
                    ""
                    if port == SAGEMAKER_PORT
                    else f": SageMaker sends requests to port {SAGEMAKER_PORT} only"
                ),
            )
        )
    start = time.perf_counter()
    try:
        # Long enough to measure a slow accept rather than race it: Linux resends a dropped SYN after 1 s.
        with socket.create_connection((host, port), timeout=max(connect_limit * 8, 3.0)):
            took = time.perf_counter() - start
        checks.append(
            Check(
                "connect",
                took <= connect_limit,
                took,
                "accepted"
                if took <= connect_limit
                else f"accepted after more than {connect_limit * 1000:.0f} ms",
            )
        )
    except OSError as error:
        checks.append(Check("connect", False, None, f"no connection: {error}"))
        return checks
    checks.append(_request(host, port, "GET", "/ping", None, None, ping_limit, ping=True))
    checks.append(
        _request(host, port, "POST", "/invocations", payload, content_type, invoke_limit, ping=False)
    )
    return checks


def _request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    limit: float,
    *,
    ping: bool,
) -> Check:
    name = path.strip("/")
    connection = http.client.HTTPConnection(host, port, timeout=limit)
    start = time.perf_counter()
    try:
        connection.request(
            method, path, body=body, headers={"Content-Type": content_type} if content_type else {}
        )
        response = connection.getresponse()
        content = response.read()
        took = time.perf_counter() - start
    except TimeoutError:
        return Check(name, False, None, f"no answer within {limit:g} s")
    except (OSError, http.client.HTTPException) as error:
        return Check(name, False, None, f"request failed: {error}")
    finally:
        connection.close()
    if response.status != 200:
        return Check(name, False, took, f"HTTP {response.status}; SageMaker needs 200")
    if ping and content:
        return Check(name, False, took, f"body of {len(content)} bytes; /ping must answer with an empty body")
    if took > limit:
        return Check(name, False, took, f"answered after more than {limit:g} s")
    return Check(name, True, took, "200" + ("" if ping else f", {len(content)} bytes"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlblueprints.apps.container_contract",
        description="Check a running serving container against SageMaker's hosting contract.",
    )
    parser.add_argument("url", help="where the container listens, e.g. http://localhost:8080")
    parser.add_argument("--payload", default="{}", help="the /invocations request body")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--ping-limit", type=float, default=PING_LIMIT_S, help="seconds /ping may take")
    args = parser.parse_args(argv)
    checks = check_serving_container(
        args.url, payload=args.payload.encode(), content_type=args.content_type, ping_limit=args.ping_limit
    )
    for check in checks:
        print(check)
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
