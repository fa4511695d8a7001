"""A webhook receiver on 127.0.0.1: records every request and answers as told."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    """One request as it arrived."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """What the receiver answers (`statuses` in turn, then `status`) and what it got."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    body: bytes = b"ok"
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.status

    def ids(self) -> list[str]:
        with self.lock:
            return [request.webhook_id for request in self.received]


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Run a receiver on a free local port until the block ends."""
    state = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if state.delay:
                time.sleep(state.delay)
            status = state.answer()
            with state.lock:
                state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("content-length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
