"""The hosting-contract checker against local servers: a good one and deliberately broken ones."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlblueprints.apps.container_contract import Check, check_serving_container, main


def _serve(ping_status=200, ping_body=b"", invoke_status=200, invoke_delay=0.0):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(ping_status if self.path == "/ping" else 404)
            self.send_header("Content-Length", str(len(ping_body)))
            self.end_headers()
            self.wfile.write(ping_body)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(invoke_delay)
            body = b'{"ok": true}'
            self.send_response(invoke_status if self.path == "/invocations" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        server = _serve(**kwargs)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_contract_abiding_server_passes_every_check(serve):
    checks = _by_name(check_serving_container(serve(), require_port_8080=False))
    assert all(check.passed for check in checks.values()), checks
    assert checks["connect"].seconds < 0.25 and checks["ping"].seconds is not None


@pytest.mark.parametrize(
    ("server", "failing", "reason"),
    [
        ({"ping_body": b"healthy"}, "ping", "must answer with an empty body"),
        ({"ping_status": 503}, "ping", "HTTP 503; SageMaker needs 200"),
        ({"invoke_status": 500}, "invocations", "HTTP 500"),
        ({"invoke_delay": 1.0}, "invocations", "no answer within 0.3 s"),
    ],
)
def test_broken_servers_fail_with_the_reason(serve, server, failing, reason):
    checks = _by_name(check_serving_container(serve(**server), require_port_8080=False, invoke_limit=0.3))
    assert not checks[failing].passed and reason in checks[failing].detail
    assert all(check.passed for name, check in checks.items() if name != failing)


def test_wrong_port_and_nothing_listening():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    checks = _by_name(check_serving_container(f"http://127.0.0.1:{free}"))
    assert not checks["port"].passed and "port 8080 only" in checks["port"].detail
    assert not checks["connect"].passed and "no connection" in checks["connect"].detail
    assert "ping" not in checks


def test_command_prints_each_check_and_its_time(serve, capsys):
    assert main([serve()]) == 1  # an ephemeral port is not 8080
    out = capsys.readouterr().out
    assert "FAIL  port" in out and "PASS  ping" in out and " ms" in out
