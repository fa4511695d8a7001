"""The key-derivation work a PKCS#12 file names is read from its DER before any child opens it."""

import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from app.certificates.derivation import MAX_ITERATIONS, Unpriceable, affordable, iteration_counts
from tests.fixtures import certificates as files


def exported(rounds: int, algorithm: pkcs12.PBES = pkcs12.PBES.PBESv2SHA256AndAES256CBC) -> bytes:
    """A file of a key, its certificate and a chain, encrypted with `rounds` of key derivation."""
    now = datetime.now(UTC)
    key = files.ec_key()
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(rounds)
        .key_cert_algorithm(algorithm)
        .hmac_hash(hashes.SHA256())
        .build(files.PASSWORD.encode())
    )
    return pkcs12.serialize_key_and_certificates(
        b"x", key, files.certificate(key, now), [files.ca_certificate(now)], encryption
    )


def test_real_exports_name_their_counts_and_are_affordable() -> None:
    p12 = files.rsa_2048(datetime.now(UTC))
    assert iteration_counts(p12.data) == [2048, 20000, 20000]  # MAC, certificates, key
    assert affordable(p12.data)
    for algorithm in (pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC, pkcs12.PBES.PBESv2SHA256AndAES256CBC):
        data = exported(600_000, algorithm)  # OWASP's count for PBKDF2-SHA256
        assert iteration_counts(data)[1:] == [600_000, 600_000]
        assert affordable(data)


def test_the_mac_bomb_is_refused_in_microseconds() -> None:
    bomb = files.costly(datetime.now(UTC))
    started = time.perf_counter()
    assert iteration_counts(bomb.data)[0] == 2**31 - 1
    assert not affordable(bomb.data)
    assert time.perf_counter() - started < 0.05


def test_too_many_rounds_of_encryption_are_refused_one_by_one_and_in_sum() -> None:
    assert not affordable(exported(MAX_ITERATIONS + 1))
    assert not affordable(exported(MAX_ITERATIONS - 1))  # each allowed, but over 2 million in sum
    assert affordable(exported(500_000))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"-----BEGIN CERTIFICATE-----", b"\x30\x00"],
    ids=["empty", "no-length", "indefinite-unended", "length-beyond", "pem", "empty-sequence"],
)
def test_what_cannot_be_followed_is_unpriceable(data: bytes) -> None:
    with pytest.raises(Unpriceable):
        iteration_counts(data)
    assert not affordable(data)


def test_a_deep_nest_is_unpriceable_not_a_recursion_error() -> None:
    data = b"\x30\x80" * 10_000 + b"\x00\x00" * 10_000
    assert not affordable(data)
