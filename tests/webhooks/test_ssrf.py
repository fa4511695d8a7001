"""No server-side request forgery (SPEC §5.7): names that resolve to loopback, private, link-local
or IPv4-mapped addresses are refused before any connection; an attempt connects to the address
that was checked, never to a second resolution; the allow-list is checked before resolving."""

import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from app.config.settings import Settings
from app.webhooks.client import DeliveryClient
from app.webhooks.guard import AddressGuard, UrlRefused, is_public
from tests.conftest import make_settings
from tests.fixtures.world import World
from tests.webhooks.receiver import receiving

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "::1",
    "::ffff:127.0.0.1",
    "fd00::1",
    "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "224.0.0.1",
]


class FakeDns:
    """A resolver that answers what the test says, and counts its questions."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


def public_settings(**overrides: object) -> Settings:
    """Production rules: private addresses refused, https only, no allow-list unless given."""
    values: dict[str, object] = {"webhook_allow_private": False, "webhook_allowed_hosts": []}
    values.update(overrides)
    return make_settings("sqlite+aiosqlite:///:memory:", **values)


@pytest.fixture
def listening() -> Iterator[tuple[socket.socket, int]]:
    """A local socket that would accept a connection if anything connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server, server.getsockname()[1]
    server.close()


def accepted(server: socket.socket) -> int:
    """How many connections reached the socket."""
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.mark.parametrize("address", REFUSED)
async def test_a_name_resolving_to_a_non_public_address_is_refused_before_any_connection(
    address: str, listening: tuple[socket.socket, int]
) -> None:
    server, port = listening
    dns = FakeDns({"hooks.example.com": [address]})
    guard = AddressGuard(public_settings(), resolver=dns)
    with pytest.raises(UrlRefused) as refused:
        await guard.target(f"https://hooks.example.com:{port}/hook")
    assert refused.value.reason == "private_address"
    client = DeliveryClient(public_settings(), guard)
    try:
        outcome = await client.send(f"https://hooks.example.com:{port}/hook", b"{}", {})
    finally:
        await client.close()
    assert outcome.status_code is None
    assert outcome.error == "url_not_allowed: private_address"
    assert accepted(server) == 0


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    dns = FakeDns({"mixed.example.com": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(UrlRefused):
        await AddressGuard(public_settings(), resolver=dns).target("https://mixed.example.com/")


async def test_a_public_name_passes_and_is_pinned_to_its_checked_address() -> None:
    dns = FakeDns({"hooks.example.com": ["93.184.215.14"]})
    target = await AddressGuard(public_settings(), resolver=dns).target("https://hooks.example.com/x")
    assert target.address == "93.184.215.14"
    assert target.host == "hooks.example.com"
    assert target.port == 443


async def test_the_attempt_connects_to_the_checked_address_with_the_original_host() -> None:
    # `rebind.invalid` resolves nowhere but in the fake resolver: the request arriving proves the
    # connection went to the address the guard checked, with no resolution of its own.
    with receiving() as receiver:
        dns = FakeDns({"rebind.invalid": ["127.0.0.1"]})
        settings = make_settings("sqlite+aiosqlite:///:memory:", webhook_allowed_hosts=["rebind.invalid"])
        client = DeliveryClient(settings, AddressGuard(settings, resolver=dns))
        try:
            outcome = await client.send(
                f"http://rebind.invalid:{receiver.port}/hook", b"{}", {"webhook-id": "m1"}
            )
            again = await client.send(
                f"http://rebind.invalid:{receiver.port}/hook", b"{}", {"webhook-id": "m2"}
            )
        finally:
            await client.close()
    assert outcome.status_code == again.status_code == 200
    assert receiver.received[0].headers["host"] == f"rebind.invalid:{receiver.port}"
    assert dns.asked == ["rebind.invalid", "rebind.invalid"]  # checked before every attempt


async def test_a_host_outside_the_allow_list_is_never_resolved() -> None:
    dns = FakeDns({"elsewhere.example.com": ["93.184.215.14"]})
    guard = AddressGuard(public_settings(webhook_allowed_hosts=["hooks.example.com"]), resolver=dns)
    with pytest.raises(UrlRefused) as refused:
        await guard.target("https://elsewhere.example.com/")
    assert refused.value.reason == "host_not_allowed"
    assert dns.asked == []


async def test_http_and_private_addresses_need_the_development_flag() -> None:
    with pytest.raises(UrlRefused) as refused:
        AddressGuard(public_settings()).check_url("http://hooks.example.com/")
    assert refused.value.reason == "scheme"
    with pytest.raises(ValidationError, match="AINAS_WEBHOOK_ALLOW_PRIVATE"):
        Settings(environment="production", webhook_allow_private=True)


async def test_redirects_are_not_followed() -> None:
    with receiving() as receiver:
        receiver.status = 307
        settings = make_settings("sqlite+aiosqlite:///:memory:")
        client = DeliveryClient(settings)
        try:
            outcome = await client.send(receiver.url, b"{}", {})
        finally:
            await client.close()
    assert outcome.status_code == 307
    assert not outcome.succeeded
    assert outcome.error == "redirect_not_followed"
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1", False),
        ("not an address", False),
        *[(address, False) for address in REFUSED],
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_creating_an_endpoint_for_localhost_is_refused_without_the_flag(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    runtime = app.state.runtime
    object.__setattr__(
        runtime, "settings", runtime.settings.model_copy(update={"webhook_allow_private": False})
    )
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints",
        json={"url": "https://localhost/hook"},
        headers=world.a.admin.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "webhook_url_not_allowed"
    assert refused.json()["errors"][0]["code"] == "webhook_url_not_allowed"
