"""`ainas rotate-certificate-key`: re-encrypt every stored secret under the current key.

Certificates are sealed under the configured keys (AINAS_CERTIFICATE_KEY), and so are the secrets of
packages above this one (webhook endpoints' signing secrets): each kind of row is a `SealedRows`,
and the caller names them all (`app/operators.py`), since this package may not import those above.

How to rotate while the service runs:
1. set AINAS_CERTIFICATE_KEY to the new key and AINAS_CERTIFICATE_PREVIOUS_KEYS to the old one,
   and restart every instance (each then seals under the new key and still opens under the old);
2. run this command with the same settings: it opens each row sealed under another key, seals its
   values under the new key, and writes them back only if the row still holds what it read (a row
   deleted or changed meanwhile is left alone), in short transactions, each of which takes the
   next batch of every kind;
3. when it reports nothing left under other keys, remove the old key from the settings.

Run in another order, step 2 is refused: every server announces the keys it opens
(app/certificates/instances.py), and while one heard from lately lacks the new key, nothing is
resealed. On SQLite, the key kept beside the database (used when no key is configured) becomes
the new key once every row of every kind is under it.

A row that opens under no configured key (sealed for another row, damaged, or under a key no
longer configured) is reported by id and left as it is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

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


class SealedRow(Protocol):
    """A row with sealed values: its id (rows are read in its order) and its organization."""

    @property
    def id(self) -> str: ...

    @property
    def organization_id(self) -> int: ...


Row = TypeVar("Row", bound=SealedRow)


class SealedRows(Protocol[Row]):
    """One kind of row whose values are sealed under the configured keys."""

    # The kind's name in the audit event; in the command's report, the rows counted, one row, and
    # what to do about one that opens under no configured key.
    kind: str
    label: str
    one: str
    remedy: str

    async def under_other_keys(
        self, session: AsyncSession, key_id: str, after_id: str, limit: int
    ) -> Sequence[Row]:
        """The next rows (by id) sealed under another key than `key_id`."""
        ...

    async def reseal(self, session: AsyncSession, keys: KeyRing, row: Row) -> bool:
        """Seal the row's values under the current key if it still holds what was read (False:
        changed or deleted meanwhile, left alone); SealedSecretUnreadable when one does not open."""
        ...

    async def count_under_other_keys(self, session: AsyncSession, key_id: str) -> int:
        """How many rows are sealed under another key than `key_id`."""
        ...


@dataclass
class Resealed:
    """What a rotation did to one kind of row."""

    resealed: int = 0
    unreadable: list[tuple[str, int]] = field(default_factory=list)  # (id, organization id)
    remaining: int = 0  # still sealed under another key afterwards (e.g. written by an old instance)


@dataclass
class RotationReport:
    """What a rotation did, by kind of row."""

    key_id: str
    kinds: dict[str, Resealed] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every row of every kind is under the current key."""
        return not any(kind.unreadable or kind.remaining for kind in self.kinds.values())


class Certificates:
    """Certificates: the file and its password, each bound to its row and purpose."""

    kind = "certificate"
    label = "certificate(s)"
    one = "Certificate"
    remedy = "the organization must register it again"

    async def under_other_keys(
        self, session: AsyncSession, key_id: str, after_id: str, limit: int
    ) -> list[Sealed]:
        """The next certificates (by id) sealed under another key."""
        return await CertificateRepository(session).sealed_under_other_keys(key_id, after_id, limit)

    async def reseal(self, session: AsyncSession, keys: KeyRing, row: Sealed) -> bool:
        """The file and password opened under their key and sealed under the current one."""
        values = []
        for purpose, value in (("file", row.file), ("password", row.password)):
            aad = associated_data(purpose, row.organization_id, row.id)
            values.append(keys.seal(keys.open(row.key_id, value, aad), aad))
        return await CertificateRepository(session).reseal(row, keys.current_id, values[0], values[1])

    async def count_under_other_keys(self, session: AsyncSession, key_id: str) -> int:
        """How many certificates are sealed under another key."""
        return await CertificateRepository(session).count_under_other_keys(key_id)


CERTIFICATES = Certificates()


class ServersLackTheKey(Exception):
    """Running servers do not open the new key yet: sealing under it now would lock them out."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} running server(s) do not have the new certificate key yet: restart every instance "
            "with AINAS_CERTIFICATE_KEY set to the new key and AINAS_CERTIFICATE_PREVIOUS_KEYS to the old "
            f"one first, then run this again within {int(FRESH_SECONDS)} s of their start (nothing was changed)"
        )


async def rotate_sealed_rows(settings: Settings, stores: Sequence[SealedRows[Any]]) -> RotationReport:
    """Re-encrypt every row of these kinds sealed under another key than the current one; refused
    while a running server lacks the current key. The key kept beside an SQLite database is
    replaced by the configured one once nothing of any kind is left under another key."""
    keys = sealing_keys(settings)
    report = RotationReport(keys.current_id, {store.kind: Resealed() for store in stores})
    runtime = build_runtime(settings)
    try:
        lacking = await servers_lacking(runtime, keys.current_id)
        if lacking:
            raise ServersLackTheKey(lacking)
        after = {store.kind: "" for store in stores}
        pending = list(stores)
        while pending:
            async with command_context(runtime) as context:
                for store in list(pending):
                    done = report.kinds[store.kind]
                    batch = await store.under_other_keys(
                        context.session, keys.current_id, after[store.kind], BATCH
                    )
                    for row in batch:
                        after[store.kind] = row.id
                        try:
                            if await store.reseal(context.session, keys, row):
                                done.resealed += 1
                        except SealedSecretUnreadable:
                            done.unreadable.append((row.id, row.organization_id))
                    if len(batch) < BATCH:
                        pending.remove(store)
        async with command_context(runtime) as context:
            for store in stores:
                report.kinds[store.kind].remaining = await store.count_under_other_keys(
                    context.session, keys.current_id
                )
            await context.audit.record(
                CLI_ACTOR,
                "certificate_key.rotate",
                "certificate_key",
                keys.current_id,
                None,
                {
                    "resealed": [None, {kind: done.resealed for kind, done in report.kinds.items()}],
                    "unreadable": [
                        None,
                        {
                            kind: [row_id for row_id, _ in done.unreadable]
                            for kind, done in report.kinds.items()
                        },
                    ],
                    "remaining": [None, {kind: done.remaining for kind, done in report.kinds.items()}],
                },
            )
    finally:
        await runtime.engine.dispose()
    if settings.certificate_key is not None and report.complete:
        replace_kept_secret(KEY_NAME, settings.database_url, settings.certificate_key.get_secret_value())
    return report
