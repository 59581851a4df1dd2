"""Request bodies at the edge: a body must be labelled JSON (415), one without a body needs no
label, and an upload the client abandons is no server error."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_errors import error_of
from tests.conftest import sqlite_url
from tests.servers import Server, make_key


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, so its log holds this test's requests only."""
    running = Server(sqlite_url(tmp_path), tmp_path).start()
    yield running
    running.stop()


def test_an_aborted_upload_is_not_logged_as_an_error(own_server: Server) -> None:
    key = make_key(own_server.engine_url)
    for path in ("/api/v1/timers", "/dashboard/sign-in"):
        with socket.create_connection(("127.0.0.1", own_server.port)) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Bearer {key}\r\nOrigin: {own_server.base}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                         '{"title":"'.encode())
    # Nothing to wait on when nothing is logged: without the handler the traceback shows
    # within milliseconds.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert "Traceback" not in own_server.output()
        assert "unhandled error" not in own_server.output()
        time.sleep(0.05)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_a_body_not_labelled_json_is_415(api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in [("POST", "/timers"), ("PATCH", "/timers/tmr_x/state"),
                         ("POST", "/account/webhook-secret/rotate")]:
        response = api.request(method, path, content=b'{"type": "countdown", "duration": 60}',
                               headers=headers)
        error_of(response, 415, "unsupported_media_type", "Content-Type", "application/json")
        assert (content_type or "no Content-Type") in response.json()["error"]["message"]


def test_a_chunked_body_must_be_labelled_json_too(api):
    refused = api.post("/timers", content=iter([b'{"type": "countdown", "duration": 60}']))
    assert refused.request.headers["transfer-encoding"] == "chunked"
    error_of(refused, 415, "unsupported_media_type", "Content-Type")
    taken = api.post("/timers", content=iter([b'{"type": "countdown", "duration": 60}']),
                     headers={"Content-Type": "application/json"})
    assert taken.status_code == 201, taken.text


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON"])
def test_json_with_parameters_or_any_case_is_taken(api, content_type):
    created = api.post("/timers", content=b'{"type": "countdown", "duration": 60}',
                       headers={"Content-Type": content_type})
    assert created.status_code == 201, created.text


def test_requests_without_a_body_need_no_content_type(api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    for path in (f"/timers/{timer['id']}/control-token/rotate", "/account/webhook-secret/rotate",
                 "/keys"):
        response = api.post(path)
        assert "content-type" not in response.request.headers
        assert response.status_code in (200, 201), (path, response.text)
    assert api.delete(f"/timers/{timer['id']}").status_code == 204


def test_the_openapi_document_names_the_415(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path, method in [("/timers", "post"), ("/timers/{timer_id}/state", "patch"),
                         ("/account/webhook-secret/rotate", "post")]:
        assert "415" in paths["/api/v1" + path][method]["responses"], (path, method)
