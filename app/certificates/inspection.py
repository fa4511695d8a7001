"""Opening a PKCS#12 file and reading its certificate, in a child process with a time limit.

A PKCS#12 file names its own key-derivation work (iteration counts), and OpenSSL does that work
before it can tell a wrong password: a crafted file of a few kilobytes can ask for minutes of
CPU. So the file is opened in a short-lived child process (this module run as a script, with only
the standard library and `cryptography`), which the service kills when it takes longer than the
configured time; a crash or a memory blow-up in the parser ends the child, not the service.

The file and password reach the child through its standard input, never its arguments or
environment; the child answers facts as JSON on its standard output (never the file or the
password). The rules of SPEC §2.6 are applied by the service (app/certificates/service.py).
"""

import asyncio
import json
import logging
import math
import struct
import sys
import weakref
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# Outcomes of opening a file, besides "opened".
UNREADABLE = "unreadable"
PASSWORD_INCORRECT = "password_incorrect"
KEY_MISSING = "key_missing"
KEY_MISMATCH = "key_mismatch"
TOO_COSTLY = "too_costly"
# The child's address space: far above what opening a 64 KiB file needs (about 60 MiB).
CHILD_MEMORY_BYTES = 512 * 1024 * 1024
_LENGTH = struct.Struct(">I")
logger = logging.getLogger("ainas.certificates")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the certificate of the file's key says (metadata only: nothing secret)."""

    subject_organization: str | None
    subject_common_name: str | None
    subject: str
    issuer: str
    serial_number: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    key_algorithm: str  # RSA, EC, or the name of another kind of key
    key_bits: int
    curve: str | None
    digital_signature: bool | None  # None: the certificate has no keyUsage extension


@dataclass(frozen=True, slots=True)
class Opened:
    """The outcome of opening a file: `opened` with facts, or one of the refusals above."""

    outcome: str
    facts: Facts | None = None


class ChildrenBusy(Exception):
    """No file can be opened now: every slot stayed taken for the time limit, or no child started."""


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = [attribute.value for attribute in name.get_attributes_for_oid(oid)]
    return str(values[0]) if values else None


def _public_bytes(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _key_description(key: Any) -> tuple[str, int, str | None]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "EC", key.curve.key_size, key.curve.name
    return type(key).__name__.removeprefix("_").removesuffix("PrivateKey"), 0, None


def _certificate_of_key(bundle: pkcs12.PKCS12KeyAndCertificates) -> x509.Certificate | None:
    """The file's certificate whose public key is the file's private key's."""
    assert bundle.key is not None
    wanted = _public_bytes(bundle.key.public_key())
    candidates = [bundle.cert] if bundle.cert is not None else []
    candidates += list(bundle.additional_certs)
    for candidate in candidates:
        try:
            if _public_bytes(candidate.certificate.public_key()) == wanted:
                return candidate.certificate
        except (ValueError, TypeError):  # a public key of a kind cryptography does not read
            continue
    return None


def inspect(data: bytes, password: bytes) -> Opened:
    """Open the file with the password and read the certificate of its key."""
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError as exc:
        # cryptography (pinned) says "Could not deserialize PKCS12 data" for bytes that are not
        # a PKCS#12 structure, and "Invalid password or PKCS12 data" when the file's integrity
        # check or decryption fails under the password (tests/certificates hold both apart).
        return Opened(PASSWORD_INCORRECT if "password" in str(exc).lower() else UNREADABLE)
    except Exception:  # an algorithm or structure cryptography does not support
        return Opened(UNREADABLE)
    if bundle.key is None:
        return Opened(KEY_MISSING)
    certificate = _certificate_of_key(bundle)
    if certificate is None:
        return Opened(KEY_MISMATCH)
    try:
        algorithm, bits, curve = _key_description(bundle.key)
        try:
            usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
            digital_signature: bool | None = usage.digital_signature
        except x509.ExtensionNotFound:
            digital_signature = None
        facts = Facts(
            subject_organization=_first(certificate.subject, NameOID.ORGANIZATION_NAME),
            subject_common_name=_first(certificate.subject, NameOID.COMMON_NAME),
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            serial_number=f"{certificate.serial_number:X}",
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex().upper(),
            key_algorithm=algorithm,
            key_bits=bits,
            curve=curve,
            digital_signature=digital_signature,
        )
    except ValueError:  # a malformed name or extension
        return Opened(UNREADABLE)
    return Opened("opened", facts)


def _to_json(opened: Opened) -> bytes:
    facts = None
    if opened.facts is not None:
        facts = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(opened.facts).items()
        }
    return json.dumps({"outcome": opened.outcome, "facts": facts}).encode()


def _from_json(raw: bytes) -> Opened:
    document = json.loads(raw)
    facts = document.get("facts")
    if facts is None:
        return Opened(str(document["outcome"]))
    for name in ("not_before", "not_after"):
        facts[name] = datetime.fromisoformat(facts[name])
    return Opened(str(document["outcome"]), Facts(**facts))


def _child_main(cpu_seconds: int) -> None:
    """The child: limit itself, read `length | password | file` from standard input, answer JSON."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on this platform: the parent's timeout still holds
        pass
    raw = sys.stdin.buffer.read()
    (length,) = _LENGTH.unpack_from(raw)
    password, data = raw[_LENGTH.size : _LENGTH.size + length], raw[_LENGTH.size + length :]
    sys.stdout.buffer.write(_to_json(inspect(data, password)))


# The slots of each event loop, by their number (a semaphore belongs to one loop; tests run many).
_SLOTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]]" = (
    weakref.WeakKeyDictionary()
)


@dataclass(slots=True)
class _Turn:
    """An owner's turns to open files, and how many of its files are waiting or open."""

    turns: asyncio.Semaphore
    users: int = 0


# The turns of each event loop, by owner (an owner's entry lives while one of its files does).
_TURNS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Turn]]" = (
    weakref.WeakKeyDictionary()
)


def _slots(concurrency: int) -> asyncio.Semaphore:
    by_size = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    if concurrency not in by_size:
        by_size[concurrency] = asyncio.Semaphore(concurrency)
    return by_size[concurrency]


@asynccontextmanager
async def _turn_and_slot(
    owner: Hashable | None, per_owner: int, seconds: float, concurrency: int
) -> AsyncIterator[None]:
    """One of the owner's `per_owner` turns (none needed without an owner), then a slot:
    ChildrenBusy when both are not had within `seconds`. An owner's waiting files take no slot
    from other owners."""
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    turn = None
    if owner is not None:
        turn = turns.setdefault(owner, _Turn(asyncio.Semaphore(per_owner)))
        turn.users += 1
    slots = _slots(concurrency)
    holding_turn = holding_slot = False
    try:
        try:
            async with asyncio.timeout(seconds):
                if turn is not None:
                    await turn.turns.acquire()
                    holding_turn = True
                await slots.acquire()
                holding_slot = True
        except TimeoutError:
            raise ChildrenBusy() from None
        yield
    finally:
        if holding_slot:
            slots.release()
        if turn is not None:
            if holding_turn:
                turn.turns.release()
            turn.users -= 1
            if turn.users == 0:
                del turns[owner]


async def inspect_in_child(
    data: bytes,
    password: str,
    seconds: float,
    concurrency: int,
    owner: Hashable | None = None,
    per_owner: int = 1,
) -> Opened:
    """`inspect` in a child process, at most `concurrency` at once and `per_owner` at once per
    `owner`; TOO_COSTLY when it takes longer than `seconds`, UNREADABLE when the child fails in
    any other way, and ChildrenBusy when no turn and slot free within `seconds`."""
    async with _turn_and_slot(owner, per_owner, seconds, concurrency):
        return await _inspect_in_child(data, password, seconds)


async def _inspect_in_child(data: bytes, password: str, seconds: float) -> Opened:
    """Open the file in a child process, killed after `seconds`."""
    # -I: no user site, no PYTHON* variables, not the current directory on the path; and an
    # empty environment: the child needs none of the service's settings (keys among them).
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            __file__,
            str(math.ceil(seconds) + 1),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={},
        )
    except OSError as exc:  # out of processes or memory: the service's trouble, not the file's
        logger.error("could not start the process that opens certificate files: %s", type(exc).__name__)
        raise ChildrenBusy() from None
    encoded = password.encode()
    message = _LENGTH.pack(len(encoded)) + encoded + data
    try:
        output, _ = await asyncio.wait_for(process.communicate(message), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Opened(TOO_COSTLY)
    if process.returncode != 0:
        return Opened(UNREADABLE)
    try:
        return _from_json(output)
    except (ValueError, KeyError, TypeError):
        return Opened(UNREADABLE)


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
