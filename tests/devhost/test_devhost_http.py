"""HTTP triggers over real HTTP: routing, what reaches the function, what comes back, and the log."""

from __future__ import annotations

import base64
import socket
import uuid
from typing import Any

import pytest
import requests

from tests.support.devhost_helpers import BODY_LIMIT, SampleHost


def get_json(host: SampleHost, path: str) -> Any:
    response = requests.get(host.base_url + path, timeout=10)
    assert response.status_code == 200, (path, response.status_code)
    return response.json()


@pytest.mark.parametrize(
    ("path", "function", "route_params"),
    [
        ("/items/42", "item_by_id", {"id": "42"}),
        ("/items/-7", "item_by_id", {"id": "-7"}),
        ("/items/abc", "item_by_name", {"name": "abc"}),
        # The literal wins over {name:alpha}, which would match too.
        ("/items/special", "item_special", {}),
        ("/things/0f8fad5b-d9cb-469f-a165-70867728950e", "thing", {"key": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
        ("/greet", "greet", {}),
        ("/greet/ada", "greet", {"name": "ada"}),
        ("/files", "files", {}),
        ("/files/2026/11/report.pdf", "files", {"path": "2026/11/report.pdf"}),
        ("/files/a%20b/c", "files", {"path": "a b/c"}),
        ("/items/42/", "item_by_id", {"id": "42"}),
    ],
)
def test_routes_match_with_their_parameters(
    sample_host: SampleHost, path: str, function: str, route_params: dict[str, str]
) -> None:
    body = get_json(sample_host, path)
    assert body["function"] == function
    assert body["route_params"] == route_params


@pytest.mark.parametrize(
    "path",
    [
        "/items/4a",  # neither int nor alpha
        "/items/99999999999",  # beyond int32
        "/items",  # {id} is required
        "/items/42/more",
        "/things/not-a-guid",
        "/nothing/here",
    ],
)
def test_paths_without_a_matching_route_are_404(sample_host: SampleHost, path: str) -> None:
    response = requests.get(sample_host.base_url + path, timeout=10)
    assert response.status_code == 404
    assert response.content == b""


def test_literal_segments_match_case_insensitively(sample_host: SampleHost) -> None:
    assert requests.get(f"{sample_host.base_url}/mixed/CASE/path", timeout=10).text == "mixed"
    assert get_json(sample_host, "/ITEMS/42")["function"] == "item_by_id"


def test_methods_select_the_function_and_others_are_404(sample_host: SampleHost) -> None:
    base = sample_host.base_url
    assert requests.get(f"{base}/widgets", timeout=10).text == "list"
    created = requests.post(f"{base}/widgets", timeout=10)
    assert (created.status_code, created.text) == (201, "create")
    assert requests.delete(f"{base}/widgets", timeout=10).status_code == 404
    assert requests.post(f"{base}/items/42", timeout=10).status_code == 404


def test_route_defaults_to_the_function_name(sample_host: SampleHost) -> None:
    response = requests.get(f"{sample_host.base_url}/ping", timeout=10)
    assert response.text == "pong"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_request_reaches_the_function_and_response_comes_back(sample_host: SampleHost) -> None:
    body = b"\x00\xffbinary \xe2\x82\xac"
    response = requests.post(
        f"{sample_host.base_url}/echo/t1?a=1&a=2&empty=&Q=x%20y",
        data=body,
        headers={"X-Custom": "custom value", "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 202
    assert response.headers["X-Echo-Tag"] == "t1"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["url"] == f"{sample_host.base_url}/echo/t1?a=1&a=2&empty=&Q=x%20y"
    # Repeated keys are joined with "," and empty values are left out, as the host does.
    assert seen["params"] == {"a": "1,2", "Q": "x y"}
    assert seen["route_params"] == {"tag": "t1"}
    assert seen["headers"]["x-custom"] == "custom value"
    assert seen["headers"]["content-type"] == "application/octet-stream"
    assert base64.b64decode(seen["body_b64"]) == body


def test_a_function_returning_str_answers_200_text(sample_host: SampleHost) -> None:
    response = requests.get(f"{sample_host.base_url}/text", timeout=10)
    assert (response.status_code, response.text) == (200, "just a string")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_async_functions_run_and_get_a_context(sample_host: SampleHost) -> None:
    seen = get_json(sample_host, "/async/v1")
    assert seen["value"] == "v1"
    assert seen["function_name"] == "async_route"
    uuid.UUID(seen["invocation_id"])


def test_an_exception_is_an_empty_500_with_the_traceback_in_the_log(sample_host: SampleHost) -> None:
    response = requests.get(f"{sample_host.base_url}/boom", timeout=10)
    assert response.status_code == 500
    assert response.content == b""
    log = sample_host.devhost.log_text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: kaboom-7f3a" in log
    assert "GET /boom 500" in log


def test_a_body_over_the_limit_is_413(sample_host: SampleHost) -> None:
    url = f"{sample_host.base_url}/echo/limit"
    at_limit = requests.post(url, data=b"x" * BODY_LIMIT, timeout=10)
    assert at_limit.status_code == 202
    assert len(base64.b64decode(at_limit.json()["body_b64"])) == BODY_LIMIT
    over = requests.post(url, data=b"x" * (BODY_LIMIT + 1), timeout=10)
    assert over.status_code == 413
    assert "POST /echo/limit 413" in sample_host.devhost.wait_for_log("POST /echo/limit 413")


def test_the_access_log_redacts_keys_and_never_logs_headers(sample_host: SampleHost) -> None:
    secrets = {name: f"secret-{name}-{uuid.uuid4().hex}" for name in ("apikey", "APIKEY", "apiKey", "code")}
    header_secret = f"header-{uuid.uuid4().hex}"
    query = "&".join(f"{name}={value}" for name, value in secrets.items()) + "&keep=visible"
    response = requests.get(
        f"{sample_host.base_url}/ping?{query}",
        headers={"X-Api-Key": header_secret, "Authorization": f"Bearer {header_secret}"},
        timeout=10,
    )
    assert response.status_code == 200
    log = sample_host.devhost.log_text()
    for value in [*secrets.values(), header_secret]:
        assert value not in log
    line = next(line for line in log.splitlines() if "GET /ping?" in line and "keep=visible" in line)
    assert "apikey=***&APIKEY=***&apiKey=***&code=***&keep=visible 200" in line
    assert line.endswith("ms")


def test_local_settings_are_loaded_but_the_environment_wins(sample_host: SampleHost) -> None:
    base = sample_host.base_url
    assert requests.get(f"{base}/settings/FROM_SETTINGS_FILE", timeout=10).text == "file-value"
    assert requests.get(f"{base}/settings/SAMPLE_OVERRIDDEN", timeout=10).text == "env-value"
    assert "Skipping 'SAMPLE_OVERRIDDEN'" in sample_host.devhost.log_text()


def test_the_banner_lists_functions_and_queues(sample_host: SampleHost) -> None:
    log = sample_host.devhost.log_text()
    assert f"item_by_id: [GET] {sample_host.base_url}/items/{{id:int}}" in log
    assert f"echo: [POST,PUT] {sample_host.base_url}/echo/{{tag}}" in log
    assert f"record_delivery: queueTrigger on '{sample_host.queue_name}'" in log


def test_a_route_without_methods_takes_every_method(sample_host: SampleHost) -> None:
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        response = requests.request(method, f"{sample_host.base_url}/any", timeout=10)
        assert (response.status_code, response.text) == (200, f"any {method}")


def test_head_answers_headers_without_a_body(sample_host: SampleHost) -> None:
    assert requests.head(f"{sample_host.base_url}/greet/ada", timeout=10).status_code == 404  # no implicit HEAD
    with socket.create_connection(("127.0.0.1", sample_host.devhost.port), timeout=10) as sock:
        sock.sendall(b"HEAD /any HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Content-Length: 8" in head  # the length of "any HEAD"
    assert rest == b""
