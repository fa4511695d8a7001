"""The key-derivation work a PKCS#12 file names, read from its DER (or BER) before it is opened.

A PKCS#12 file chooses its own iteration counts: for its integrity check (MacData, or PBMAC1's
PBKDF2) and for each encryption with a password (PKCS#12 PBE, PBES1, PBES2 with PBKDF2). OpenSSL
does all of that work before it can tell a wrong password, so a file of a few kilobytes asking for
2^31 rounds costs many CPU-seconds in the child that opens it. This walk reads the counts in the
parent, in microseconds, and a file asking for more than a real export does is refused before any
child starts. A count inside an encrypted part (a key bag nested in encrypted content) cannot be
read without the password: the child's time limit and one opening per organization bound those.

Only the structure RFC 7292 defines is followed; a structure this walk cannot follow, or an
encryption or key derivation it does not know (so cannot price), counts as unreadable.
"""

from collections.abc import Iterator
from dataclasses import dataclass

# Real exports use 2,000 (Windows), 2,048 (OpenSSL), 10,000 (Java) or 600,000 (OWASP's advice for
# PBKDF2-SHA256); a million rounds of PBKDF2-SHA256 take about 0.13 s of CPU.
MAX_ITERATIONS = 1_000_000
MAX_TOTAL_ITERATIONS = 2_000_000
_MAX_DEPTH = 16

_SEQUENCE, _INTEGER, _OCTET_STRING, _OID = 0x30, 0x02, 0x04, 0x06
_CONSTRUCTED_OCTET_STRING, _EXPLICIT_0 = 0x24, 0xA0


def _oid(dotted: str) -> bytes:
    """The DER content of an object identifier."""
    numbers = [int(part) for part in dotted.split(".")]
    encoded = bytearray([40 * numbers[0] + numbers[1]])
    for number in numbers[2:]:
        chunk, rest = [number & 0x7F], number >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        encoded += bytes(reversed(chunk))
    return bytes(encoded)


_DATA = _oid("1.2.840.113549.1.7.1")
_ENCRYPTED_DATA = _oid("1.2.840.113549.1.7.6")
_SHROUDED_KEY_BAG = _oid("1.2.840.113549.1.12.10.1.2")
_SAFE_CONTENTS_BAG = _oid("1.2.840.113549.1.12.10.1.6")
_PBES2 = _oid("1.2.840.113549.1.5.13")
_PBKDF2 = _oid("1.2.840.113549.1.5.12")
_PBMAC1 = _oid("1.2.840.113549.1.5.14")
# PBEParameter {salt, iterationCount}: PKCS#12's own schemes and PKCS#5's PBES1.
_PBE_WITH_COUNT = frozenset(
    [_oid(f"1.2.840.113549.1.12.1.{n}") for n in range(1, 7)]
    + [_oid(f"1.2.840.113549.1.5.{n}") for n in (1, 3, 4, 6, 10, 11)]
)


class Unpriceable(Exception):
    """The file's structure cannot be followed, or it names work this walk cannot count."""


@dataclass(frozen=True, slots=True)
class _Item:
    tag: int  # the identifier octet (class, constructed bit, number; 0x1F for a long-form number)
    content: bytes


def _item(data: bytes, position: int, depth: int) -> tuple[_Item, int]:
    """The item at `position` and where the next one begins (BER: indefinite lengths too)."""
    if depth > _MAX_DEPTH or position + 2 > len(data):
        raise Unpriceable()
    tag, cursor = data[position], position + 1
    if tag & 0x1F == 0x1F:  # a tag number in the following octets
        while cursor < len(data) and data[cursor] & 0x80:
            cursor += 1
        cursor += 1
    if cursor >= len(data):
        raise Unpriceable()
    length, cursor = data[cursor], cursor + 1
    if length == 0x80:  # indefinite: constructed items up to an end-of-contents 00 00
        if not tag & 0x20:
            raise Unpriceable()
        start = cursor
        while data[cursor : cursor + 2] != b"\x00\x00":
            _, cursor = _item(data, cursor, depth + 1)
        return _Item(tag, data[start:cursor]), cursor + 2
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or cursor + count > len(data):
            raise Unpriceable()
        length, cursor = int.from_bytes(data[cursor : cursor + count], "big"), cursor + count
    if cursor + length > len(data):
        raise Unpriceable()
    return _Item(tag, data[cursor : cursor + length]), cursor + length


def _children(item: _Item, depth: int) -> list[_Item]:
    if not item.tag & 0x20:
        raise Unpriceable()
    children, position = [], 0
    while position < len(item.content):
        child, position = _item(item.content, position, depth + 1)
        children.append(child)
    return children


def _only(data: bytes, depth: int) -> _Item:
    item, end = _item(data, 0, depth)
    if end != len(data):
        raise Unpriceable()
    return item


def _expect(item: _Item, tag: int) -> _Item:
    if item.tag != tag:
        raise Unpriceable()
    return item


def _octets(item: _Item, depth: int) -> bytes:
    """An OCTET STRING's bytes, also when BER splits it into pieces."""
    if item.tag == _OCTET_STRING:
        return item.content
    if item.tag == _CONSTRUCTED_OCTET_STRING:
        return b"".join(_octets(piece, depth + 1) for piece in _children(item, depth))
    raise Unpriceable()


def _count(item: _Item) -> int:
    """An iteration count; anything above the limits as one over them."""
    content = _expect(item, _INTEGER).content
    if not content or content[0] & 0x80:
        raise Unpriceable()  # empty or negative
    if len(content) > 8:
        return MAX_TOTAL_ITERATIONS + 1
    count = int.from_bytes(content, "big")
    if count < 1:
        raise Unpriceable()
    return count


def _key_derivation(algorithm: _Item, depth: int) -> int:
    """PBKDF2's iteration count (the only key derivation of PBES2 and PBMAC1 counted here)."""
    identifier, *parameters = _children(_expect(algorithm, _SEQUENCE), depth)
    if _expect(identifier, _OID).content != _PBKDF2 or not parameters:
        raise Unpriceable()
    fields = _children(_expect(parameters[0], _SEQUENCE), depth + 1)
    if len(fields) < 2:
        raise Unpriceable()
    return _count(fields[1])  # after the salt


def _encryption(algorithm: _Item, depth: int) -> int:
    """The iteration count of a password-based encryption."""
    identifier, *parameters = _children(_expect(algorithm, _SEQUENCE), depth)
    scheme = _expect(identifier, _OID).content
    if not parameters:
        raise Unpriceable()
    fields = _children(_expect(parameters[0], _SEQUENCE), depth + 1)
    if scheme in _PBE_WITH_COUNT and len(fields) == 2:
        return _count(fields[1])
    if scheme == _PBES2 and len(fields) == 2:
        return _key_derivation(fields[0], depth + 2)
    raise Unpriceable()


def _content_info(item: _Item, depth: int) -> tuple[bytes, _Item | None]:
    """A ContentInfo's type and its explicitly tagged content."""
    fields = _children(_expect(item, _SEQUENCE), depth)
    if not fields or len(fields) > 2:
        raise Unpriceable()
    content = None
    if len(fields) == 2:
        (content,) = _children(_expect(fields[1], _EXPLICIT_0), depth + 1)
    return _expect(fields[0], _OID).content, content


def _safe_contents(contents: _Item, depth: int) -> Iterator[int]:
    """The counts of the shrouded key bags of a SafeContents (nested SafeContents included)."""
    for bag in _children(_expect(contents, _SEQUENCE), depth):
        fields = _children(_expect(bag, _SEQUENCE), depth + 1)
        if len(fields) < 2:
            raise Unpriceable()
        kind = _expect(fields[0], _OID).content
        (value,) = _children(_expect(fields[1], _EXPLICIT_0), depth + 2)
        if kind == _SHROUDED_KEY_BAG:
            yield _encryption(_children(_expect(value, _SEQUENCE), depth + 3)[0], depth + 4)
        elif kind == _SAFE_CONTENTS_BAG:
            yield from _safe_contents(value, depth + 3)


def iteration_counts(data: bytes) -> list[int]:
    """Every iteration count the file names outside its encrypted parts: its MAC's, then each
    encryption's. Unpriceable when the structure cannot be followed."""
    fields = _children(_expect(_only(data, 0), _SEQUENCE), 0)
    if len(fields) not in (2, 3):
        raise Unpriceable()
    counts = []
    if len(fields) == 3:  # MacData {DigestInfo {algorithm, digest}, salt, iterations DEFAULT 1}
        mac = _children(_expect(fields[2], _SEQUENCE), 1)
        if len(mac) not in (2, 3):
            raise Unpriceable()
        algorithm = _children(_expect(mac[0], _SEQUENCE), 2)[0]
        identifier, *parameters = _children(_expect(algorithm, _SEQUENCE), 3)
        if _expect(identifier, _OID).content == _PBMAC1:
            if not parameters:
                raise Unpriceable()
            counts.append(_key_derivation(_children(_expect(parameters[0], _SEQUENCE), 4)[0], 5))
        counts.append(_count(mac[2]) if len(mac) == 3 else 1)
    kind, content = _content_info(fields[1], 1)
    if kind != _DATA or content is None:
        raise Unpriceable()
    for part in _children(_expect(_only(_octets(content, 2), 2), _SEQUENCE), 2):
        kind, content = _content_info(part, 3)
        if content is None:
            raise Unpriceable()
        if kind == _DATA:
            counts.extend(_safe_contents(_only(_octets(content, 4), 4), 4))
        elif kind == _ENCRYPTED_DATA:  # EncryptedData {version, EncryptedContentInfo {type, algorithm, ...}}
            encrypted = _children(_expect(content, _SEQUENCE), 4)
            if len(encrypted) < 2:
                raise Unpriceable()
            info = _children(_expect(encrypted[1], _SEQUENCE), 5)
            if len(info) < 2:
                raise Unpriceable()
            counts.append(_encryption(info[1], 6))
        else:
            raise Unpriceable()  # enveloped or signed content: not what OpenSSL opens here
    return counts


def affordable(data: bytes) -> bool:
    """Whether the file's named key-derivation work is within what real exports ask for."""
    try:
        counts = iteration_counts(data)
    except (Unpriceable, ValueError, IndexError):
        return False
    return all(count <= MAX_ITERATIONS for count in counts) and sum(counts) <= MAX_TOTAL_ITERATIONS
