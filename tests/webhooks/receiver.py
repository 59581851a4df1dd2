"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request as it arrived
and answers what the test tells it to, per path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    at: float  # time.time() when the body was read
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"received": true}'
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)


class _Listener(ThreadingHTTPServer):
    # socketserver's default backlog of 5 resets connections when many attempts arrive at once.
    request_queue_size = 128


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        #: path → what to answer there; a callable gets the request count at that path so far
        self.answers: dict[str, Answer | Callable[[int], Answer]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(
                        time.time(), self.path, {k.lower(): v for k, v in self.headers.items()},
                        body))
                    count = sum(1 for r in receiver.received if r.path == self.path)
                answer = receiver.answers.get(self.path, Answer())
                if callable(answer):
                    answer = answer(count)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender went away (a killed server, a timeout): it is recorded

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _Listener(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.at(path))} requests, expected {count}")

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
