"""Secrets never leak (issue 5, item 6): a scanner that learns every secret the suites send or are
issued, and checks every answer and every log line for them.

A secret may appear in exactly one answer: the one that issues it (a registration notice, a
password reset, a generated API password, a token answer). Anywhere else, in another answer, in
a header, or in any log line, it is a leak. Password hashes and the JWT signing key are allowed
nowhere, and stack traces in no answer.
"""

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI

from app.config.logging import JsonFormatter
from app.config.settings import Settings

# Shorter values would match by coincidence (and no real secret of the service is that short).
MIN_SECRET_LENGTH = 8
FORBIDDEN_EVERYWHERE = ("$argon2", "$pbkdf2")
# The service's own logs may carry a stack trace (that is where one belongs); an answer never.
FORBIDDEN_IN_ANSWERS = (*FORBIDDEN_EVERYWHERE, "Traceback (most recent call last)")
_SECRET_JSON_FIELDS = ("password", "current_password", "new_password")
_SECRET_FORM_FIELDS = ("password", "client_secret", "refresh_token", "token")
_ISSUED_FIELDS = (
    "api_initial_password",
    "initial_password",
    "temporary_password",
    "api_password",
    "access_token",
    "refresh_token",
)
SERVICE_LOGGERS = ("ainas", "uvicorn.error")


@dataclass
class Seen:
    """One answer as it arrived: where it came from, its text, and the secrets it issued."""

    where: str
    text: str
    issued: frozenset[str]


def _issued_values(document: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if key in _ISSUED_FIELDS and isinstance(value, str):
                found.add(value)
            elif key == "temporary_passwords" and isinstance(value, list):
                # A CSV upload's new users: [{login_id, password, expires_at}].
                found |= {item["password"] for item in value if isinstance(item.get("password"), str)}
            else:
                found |= _issued_values(value)
    elif isinstance(document, list):
        for item in document:
            found |= _issued_values(item)
    return found


def _multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields (not files) of a multipart/form-data body, as (name, value)."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    fields = []
    for part in body.split(b"--" + boundary) if boundary else []:
        head, _, value = part.partition(b"\r\n\r\n")
        disposition = head.decode("latin-1")
        if "filename=" in disposition or 'name="' not in disposition:
            continue
        name = disposition.partition('name="')[2].partition('"')[0]
        fields.append((name, value.removesuffix(b"\r\n").decode("utf-8", errors="replace")))
    return fields


@dataclass
class LeakScanner:
    """Learns secrets, keeps every answer and log line, and reports leaks at the end."""

    secrets: dict[str, str] = field(default_factory=dict)
    answers: list[Seen] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)

    def learn(self, value: str | None, kind: str) -> None:
        """Remember a secret value (ignored when too short to be told apart from ordinary text)."""
        if value and len(value) >= MIN_SECRET_LENGTH:
            self.secrets.setdefault(value, kind)

    def learn_from_request(self, request: httpx.Request) -> None:
        """Secrets a client sends: password fields (JSON or form) and HTTP Basic credentials."""
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            self.learn(decoded.partition(":")[2], "API password (Basic)")
        elif scheme.lower() == "bearer":
            self.learn(credentials, "access token")
        content_type = request.headers.get("content-type", "")
        body = request.content
        if not body:
            return
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8", errors="replace"))
            for name in _SECRET_FORM_FIELDS:
                for value in form.get(name, []):
                    self.learn(value, f"form field {name}")
        elif content_type.startswith("multipart/form-data"):
            for name, value in _multipart_fields(content_type, body):
                if name in _SECRET_FORM_FIELDS:
                    self.learn(value, f"multipart field {name}")
        elif content_type.startswith("application/json"):
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                return
            if isinstance(document, dict):
                for name in _SECRET_JSON_FIELDS:
                    value = document.get(name)
                    if isinstance(value, str):
                        self.learn(value, f"JSON field {name}")

    def record_answer(self, where: str, status: int, headers: httpx.Headers, body: bytes) -> None:
        """Keep an answer; the secrets it issues are learned and allowed in it alone."""
        text = body.decode("utf-8", errors="replace")
        issued: set[str] = set()
        if 200 <= status < 300 and headers.get("content-type", "").startswith("application/json"):
            try:
                issued = _issued_values(json.loads(text))
            except ValueError:
                issued = set()
        for value in issued:
            self.learn(value, "issued secret")
        header_text = "\n".join(f"{name}: {value}" for name, value in headers.items())
        self.answers.append(Seen(where, f"{header_text}\n\n{text}", frozenset(issued)))

    def record_log_line(self, line: str) -> None:
        """Keep one log line as written."""
        self.log_lines.append(line)

    def leaks(self) -> list[str]:
        """Every leak found, described without repeating the secret itself."""
        found: list[str] = []
        for seen in self.answers:
            for marker in FORBIDDEN_IN_ANSWERS:
                if marker in seen.text:
                    found.append(f"answer of {seen.where} contains {marker!r}")
            for value, kind in self.secrets.items():
                if value not in seen.issued and value in seen.text:
                    found.append(
                        f"answer of {seen.where} contains a secret ({kind}, {len(value)} characters)"
                    )
        for number, line in enumerate(self.log_lines):
            for marker in FORBIDDEN_EVERYWHERE:
                if marker in line:
                    found.append(f"log line {number} contains {marker!r}")
            for value, kind in self.secrets.items():
                if value in line:
                    found.append(f"log line {number} contains a secret ({kind}, {len(value)} characters)")
        return found

    def assert_clean(self) -> None:
        """Fail with the list of leaks, if any."""
        found = self.leaks()
        assert not found, "secrets leaked:\n" + "\n".join(sorted(set(found))[:50])

    async def on_request(self, request: httpx.Request) -> None:
        """httpx event hook (reads a streamed body, such as multipart, so that it can be learned)."""
        await request.aread()
        self.learn_from_request(request)

    async def on_response(self, response: httpx.Response) -> None:
        """httpx event hook: reads the body so that it can be kept."""
        await response.aread()
        where = f"{response.request.method} {response.request.url.path}"
        self.record_answer(where, response.status_code, response.headers, response.content)


class LineCollector(logging.Handler):
    """A logging handler that keeps each record exactly as the service formats it (JSON lines)."""

    def __init__(self, scanner: LeakScanner) -> None:
        super().__init__()
        self.scanner = scanner
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        """Format and keep the record."""
        line = self.format(record)
        self.lines.append(line)
        self.scanner.record_log_line(line)

    def attach(self) -> None:
        """Listen to the service's loggers (they do not propagate to the root logger)."""
        for name in SERVICE_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if logger.level > logging.INFO or logger.level == logging.NOTSET:
                logger.setLevel(logging.INFO)

    def detach(self) -> None:
        """Stop listening."""
        for name in SERVICE_LOGGERS:
            logging.getLogger(name).removeHandler(self)


@pytest.fixture
def leaks() -> Iterator[LeakScanner]:
    """A scanner for this test; any leak it saw fails the test when it ends."""
    scanner = LeakScanner()
    yield scanner
    scanner.assert_clean()


@pytest.fixture
async def client(app: FastAPI, settings: Settings, leaks: LeakScanner) -> AsyncIterator[httpx.AsyncClient]:
    """The shared in-process client, with every request, answer and service log line scanned."""
    leaks.learn(settings.secret_key, "JWT signing key")
    collector = LineCollector(leaks)
    collector.attach()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is an answer to judge
    hooks = {"request": [leaks.on_request], "response": [leaks.on_response]}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks=hooks
        ) as http:
            yield http
    finally:
        collector.detach()
