"""`ainas rotate-certificate-key`: re-encrypt every stored certificate under the current key.

How to rotate while the service runs:
1. set AINAS_CERTIFICATE_KEY to the new key and AINAS_CERTIFICATE_PREVIOUS_KEYS to the old one,
   and restart every instance (each then seals under the new key and still opens under the old);
2. run this command with the same settings: it opens each certificate sealed under another key,
   seals its file and password under the new key, and writes them back only if the row still
   holds what it read (a certificate deleted meanwhile is left alone), in short transactions;
3. when it reports nothing left under other keys, remove the old key from the settings.

Run in another order, step 2 is refused: every server announces the keys it opens
(app/certificates/instances.py), and while one heard from lately lacks the new key, nothing is
resealed. On SQLite, the key kept beside the database (used when no key is configured) becomes
the new key once every certificate is under it.

A certificate that opens under no configured key (sealed for another row, damaged, or under a
key no longer configured) is reported by id and left as it is.
"""

from dataclasses import dataclass, field

from app.certificates.instances import FRESH_SECONDS, servers_lacking
from app.certificates.keys import associated_data
from app.certificates.repository import CertificateRepository, Sealed
from app.config.local_secrets import replace_kept_secret
from app.config.settings import Settings
from app.journal.audit_trail import Actor
from app.journal.context import command_context
from app.runtime import build_runtime
from app.security.sealing import KEY_NAME, KeyRing, SealedSecretUnreadable, sealing_keys

BATCH = 100
CLI_ACTOR = Actor("system", "cli")


@dataclass
class RotationReport:
    """What a rotation did."""

    key_id: str
    resealed: int = 0
    unreadable: list[tuple[str, int]] = field(default_factory=list)  # (certificate id, organization id)
    remaining: int = 0  # still sealed under another key afterwards (e.g. registered by an old instance)


def _resealed(keys: KeyRing, sealed: Sealed) -> tuple[bytes, bytes]:
    """The file and password of a row, opened under their key and sealed under the current one."""
    values = []
    for purpose, value in (("file", sealed.file), ("password", sealed.password)):
        aad = associated_data(purpose, sealed.organization_id, sealed.id)
        values.append(keys.seal(keys.open(sealed.key_id, value, aad), aad))
    return values[0], values[1]


class ServersLackTheKey(Exception):
    """Running servers do not open the new key yet: sealing under it now would lock them out."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} running server(s) do not have the new certificate key yet: restart every instance "
            "with AINAS_CERTIFICATE_KEY set to the new key and AINAS_CERTIFICATE_PREVIOUS_KEYS to the old "
            f"one first, then run this again within {int(FRESH_SECONDS)} s of their start (nothing was changed)"
        )


async def rotate_certificate_key(settings: Settings) -> RotationReport:
    """Re-encrypt every certificate sealed under another key than the current one; refused while
    a running server lacks the current key. The key kept beside an SQLite database is replaced by
    the configured one once nothing is left under another key."""
    keys = sealing_keys(settings)
    report = RotationReport(keys.current_id)
    runtime = build_runtime(settings)
    try:
        lacking = await servers_lacking(runtime, keys.current_id)
        if lacking:
            raise ServersLackTheKey(lacking)
        after = ""
        while True:
            async with command_context(runtime) as context:
                repository = CertificateRepository(context.session)
                batch = await repository.sealed_under_other_keys(keys.current_id, after, BATCH)
                for sealed in batch:
                    after = sealed.id
                    try:
                        file, password = _resealed(keys, sealed)
                    except SealedSecretUnreadable:
                        report.unreadable.append((sealed.id, sealed.organization_id))
                        continue
                    if await repository.reseal(sealed, keys.current_id, file, password):
                        report.resealed += 1
            if len(batch) < BATCH:
                break
        async with command_context(runtime) as context:
            report.remaining = await CertificateRepository(context.session).count_under_other_keys(
                keys.current_id
            )
            await context.audit.record(
                CLI_ACTOR,
                "certificate_key.rotate",
                "certificate_key",
                keys.current_id,
                None,
                {
                    "resealed": [None, report.resealed],
                    "unreadable": [None, [certificate_id for certificate_id, _ in report.unreadable]],
                    "remaining": [None, report.remaining],
                },
            )
    finally:
        await runtime.engine.dispose()
    if settings.certificate_key is not None and not report.unreadable and not report.remaining:
        replace_kept_secret(KEY_NAME, settings.database_url, settings.certificate_key.get_secret_value())
    return report
