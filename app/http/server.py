"""The HTTP server (uvicorn) as the service runs it: trusted proxies and a bound on request heads."""

import math
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.config.settings import Settings
from app.http.errors import PROBLEM_MEDIA_TYPE
from app.text.messages import message, title

_HEAD_END = b"\r\n\r\n"


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a head over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the size of a request's head (request line
    and headers): httptools has none, so a client could send a header of any size and the
    server would keep it in memory. A larger head is answered 431 and the connection closed.

    The limit is uvicorn's `h11_max_incomplete_event_size`, the same bound its h11 protocol
    enforces. It is counted twice: in the parser's callbacks, per request (the URL and each
    header as the parser hands them over), which holds for every request of a connection,
    pipelined ones in one read included; and by the bytes that arrive while a head is incomplete,
    up to the blank line that ends it, which bounds a header still being received (httptools
    keeps it until it is complete).
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.head_limit: int = (
            config.h11_max_incomplete_event_size or Settings.model_fields["max_header_bytes"].get_default()
        )
        self._head_bytes = 0
        self._in_head = True
        self._tail = b""  # the last bytes seen, for a blank line split across two reads
        self._parsed_head = 0  # bytes of this request's head the parser handed over
        self._refusing = False  # a head was over the limit: the 431 is sent or waits its turn

    def data_received(self, data: bytes) -> None:
        """Count the bytes of the head before handing them to the parser."""
        if self._refusing:
            return
        if self._in_head:
            window = self._tail + data
            end = window.find(_HEAD_END)
            self._head_bytes += len(data) if end < 0 else max(0, end + len(_HEAD_END) - len(self._tail))
            self._tail = window[-(len(_HEAD_END) - 1) :]
            if self._head_bytes > self.head_limit:
                self._refuse()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        """A request begins: its head is counted from nothing."""
        super().on_message_begin()
        self._parsed_head = 0

    def on_url(self, url: bytes) -> None:
        """Count the URL (it may come in pieces)."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header as its line: name, colon and space, value, CRLF."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._parsed_head += size
        if self._parsed_head > self.head_limit:
            self._refuse()
            raise _HeadTooLarge()  # stops the parser; uvicorn's 400 for it is not sent (see below)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, unless the error is the refusal of a head."""
        if not self._refusing:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        """The head is complete: what follows is the body."""
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next bytes on the connection begin the next request's head."""
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def on_response_complete(self) -> None:
        """A response is sent: the refusal goes out once every earlier request is answered."""
        super().on_response_complete()
        if self._refusing and self._answered_all():
            self._send_refusal()

    def _answered_all(self) -> bool:
        return not self.pipeline and (self.cycle is None or self.cycle.response_complete)

    def _refuse(self) -> None:
        """Read nothing more; answer 431 now, or after the requests before it (answers keep their order)."""
        if self._refusing:
            return
        self._refusing = True
        self._in_head = False
        if self._answered_all():
            self._send_refusal()
        else:
            self.flow.pause_reading()

    def _send_refusal(self) -> None:
        """431 as problem+json (in Japanese, the default language: no header was read), then close."""
        if self.transport.is_closing():
            return
        body = orjson.dumps(
            {
                "type": "urn:ainas:problem:request_header_too_large",
                "title": title(431, "ja"),
                "status": 431,
                "detail": message("request_header_too_large", "ja", {"limit": self.head_limit}),
                "code": "request_header_too_large",
            }
        )
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[431],
                    f"content-type: {PROBLEM_MEDIA_TYPE}\r\n".encode(),
                    b"content-length: %d\r\n" % len(body),
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run the application factory under uvicorn, as configured."""
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=BoundedHttpToolsProtocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # X-Forwarded-For and -Proto are believed from the configured proxies only; none by
        # default, so that a client cannot choose the address the service records.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        access_log=False,
        log_config=None,
        # SIGTERM: no new connections, then in-flight requests get this long (app/operations/drain.py).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
    )
