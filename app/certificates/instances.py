"""Each running server announces the certificate keys it opens, so that a rotation cannot seal
every certificate under a key the servers do not have yet (which would make every certificate
unreadable until rotated back): `ainas rotate-certificate-key` refuses while a server heard from
within FRESH_SECONDS lacks the new key, and says to restart the servers first."""

import asyncio
import logging
from datetime import timedelta

from app.certificates.repository import InstanceRepository
from app.journal.context import command_context
from app.runtime import Runtime
from app.security.sealing import KeyRing

ANNOUNCE_EVERY_SECONDS = 5.0
# A server not heard from for this long has stopped (a crash leaves its row behind; a clean stop
# deletes it). Generous: a busy server or database may miss a few announcements.
FRESH_SECONDS = 12 * ANNOUNCE_EVERY_SECONDS
logger = logging.getLogger("ainas.certificates")


def key_ids(keys: KeyRing) -> list[str]:
    """The ids of the keys of a ring, the sealing one first."""
    return [keys.current_id, *sorted(key_id for key_id in keys.keys if key_id != keys.current_id)]


async def announce(runtime: Runtime, instance_id: str, keys: KeyRing) -> None:
    """Write this server's row now."""
    async with command_context(runtime) as context:
        await InstanceRepository(context.session).announce(instance_id, key_ids(keys), runtime.clock.now())


async def announce_periodically(runtime: Runtime, instance_id: str, keys: KeyRing) -> None:
    """Announce at start and every ANNOUNCE_EVERY_SECONDS while the server runs."""
    while True:
        try:
            await announce(runtime, instance_id, keys)
        except Exception as exc:  # the next round tries again; serving goes on
            logger.warning("could not announce this server's certificate keys: %s", type(exc).__name__)
        await asyncio.sleep(ANNOUNCE_EVERY_SECONDS)


async def withdraw(runtime: Runtime, instance_id: str) -> None:
    """This server stops: it no longer holds a rotation back."""
    try:
        async with command_context(runtime) as context:
            await InstanceRepository(context.session).withdraw(instance_id)
    except Exception as exc:  # its row goes stale in FRESH_SECONDS anyway
        logger.warning("could not withdraw this server's announcement: %s", type(exc).__name__)


async def servers_lacking(runtime: Runtime, key_id: str) -> int:
    """How many running servers do not open `key_id`."""
    since = runtime.clock.now() - timedelta(seconds=FRESH_SECONDS)
    async with command_context(runtime) as context:
        return len(await InstanceRepository(context.session).lacking(key_id, since))
