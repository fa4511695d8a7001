"""Sending one webhook attempt: to the checked address only, no redirects, bounded in time and size.

The HTTP client connects through a network backend that refuses to resolve anything: the
attempt's checked address (app/webhooks/guard.py) is handed to it for the attempt's host, while
the request keeps its URL, so the Host header, TLS SNI and certificate check name the endpoint's
host. A pooled connection is reused only for the host it was opened to, after the host was
checked again.
"""

import asyncio
import contextvars
import time
import typing
from dataclasses import dataclass

import httpcore
import httpx

from app.config.settings import Settings
from app.webhooks.guard import AddressGuard, Target, UrlRefused

MAX_BODY_KEPT = 1024
# Who is calling, for receivers' logs and firewalls.
USER_AGENT = "AINAS-Webhooks/1"
# The address each host of the current attempt connects to (set per attempt, per task).
_PINNED: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "webhook_pinned", default=None
)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, except that a host connects to the address checked for it."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the pinned address of `host`; refuse a host that was not checked."""
        pinned = (_PINNED.get() or {}).get(host.lower())
        if pinned is None:
            raise httpcore.ConnectError(f"no checked address for {host}")
        return await self._backend.connect_tcp(pinned, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: webhooks go over TCP."""
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        """As httpcore's backend."""
        await self._backend.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over PinnedBackend, ignoring proxy settings of the environment."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt went: the status (None: no answer), the first KiB of the body, or the error."""

    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        """A 2xx answer in time."""
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryClient:
    """One process's HTTP client of webhook attempts (a bounded pool), with its address guard."""

    def __init__(self, settings: Settings, guard: AddressGuard | None = None) -> None:
        self.guard = guard or AddressGuard(settings)
        self.timeout = settings.webhook_timeout_seconds
        limits = httpx.Limits(
            max_connections=settings.webhook_concurrency,
            max_keepalive_connections=settings.webhook_concurrency,
        )
        # httpx's transport alone, without its client: an attempt needs none of the client's
        # layers (authentication, redirects, cookies, event hooks), which cost a tenth of an
        # attempt's Python calls in the event loop that also serves requests; and with no
        # client, no redirect can be followed and no receiver's cookie kept.
        self._transport = PinnedTransport(limits)
        self._timeouts = httpx.Timeout(self.timeout).as_dict()

    async def close(self) -> None:
        """Close the pool."""
        await self._transport.aclose()

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST the message to the URL's checked address; never raises for the receiver's doing."""
        started = time.monotonic()
        try:
            target = await self.guard.target(url)
        except UrlRefused as refused:
            return Outcome(None, None, f"url_not_allowed: {refused.reason}", _since(started))
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(target, body, headers, started)
        except TimeoutError:
            return Outcome(None, None, "timeout", _since(started))
        except httpx.HTTPError as exc:
            return Outcome(None, None, f"{type(exc).__name__}: {exc}"[:200], _since(started))

    async def _post(self, target: Target, body: bytes, headers: dict[str, str], started: float) -> Outcome:
        token = _PINNED.set({target.host.lower(): target.address})
        try:
            request = httpx.Request(
                "POST",
                target.url,
                content=body,
                headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT},
                extensions={"timeout": self._timeouts},
            )
            response = await self._transport.handle_async_request(request)
            try:
                kept = bytearray()
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= MAX_BODY_KEPT:
                        break
            finally:
                await response.aclose()
        finally:
            _PINNED.reset(token)
        text = bytes(kept[:MAX_BODY_KEPT]).decode("utf-8", "replace")
        error = "redirect_not_followed" if 300 <= response.status_code < 400 else None
        return Outcome(response.status_code, text, error, _since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
