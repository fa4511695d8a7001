"""The HTTP server (uvicorn) as the service runs it: trusted proxies and a bound on request heads."""

from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.config.settings import Settings
from app.http.errors import PROBLEM_MEDIA_TYPE
from app.text.messages import message, title

_HEAD_END = b"\r\n\r\n"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the size of a request's head (request line
    and headers): httptools has none, so a client could send a header of any size and the
    server would keep it in memory. A larger head is answered 431 and the connection closed.

    The limit is uvicorn's `h11_max_incomplete_event_size`, the same bound its h11 protocol
    enforces. Bytes are counted as they arrive, up to the blank line that ends the head.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.head_limit: int = (
            config.h11_max_incomplete_event_size or Settings.model_fields["max_header_bytes"].get_default()
        )
        self._head_bytes = 0
        self._in_head = True
        self._tail = b""  # the last bytes seen, for a blank line split across two reads

    def data_received(self, data: bytes) -> None:
        """Count the bytes of the head before handing them to the parser."""
        if self._in_head:
            window = self._tail + data
            end = window.find(_HEAD_END)
            self._head_bytes += len(data) if end < 0 else max(0, end + len(_HEAD_END) - len(self._tail))
            self._tail = window[-(len(_HEAD_END) - 1) :]
            if self._head_bytes > self.head_limit:
                self._refuse()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        """The head is complete: what follows is the body."""
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next bytes on the connection begin the next request's head."""
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def _refuse(self) -> None:
        """431 as problem+json (in Japanese, the default language: no header was read), then close."""
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
        self._in_head = False
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
    )
