"""Finding the actor a person typed: a local handle, ``name@host``, ``acct:…`` or a URL.

Local actors are looked up in the database; others are resolved with
``node.remote.resolve`` (WebFinger, then a signed fetch of the actor), which
talks to the network and so runs outside any transaction. Whatever goes
wrong becomes a :class:`TargetError` whose message, in the reader's language,
says what to do — never a 500.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from domain.people import HANDLE_RE
from federation.errors import (
    DomainBlocked,
    FederationError,
    FetchError,
    OriginMismatch,
    PayloadError,
    RemoteStatusError,
    UnsafeAddress,
)
from federation.models import Actor
from federation.remote import ACCT_RE
from instance.i18n import gettext as _
from instance.node import Node
from instance.services.directory import local_actor_at, local_actor_named

log = logging.getLogger(__name__)


class TargetError(Exception):
    """The address cannot be followed or written to; ``message`` is shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def explain(error: FederationError) -> str:
    """A federation error as a sentence for the person who typed the address."""
    if isinstance(error, DomainBlocked):
        return _("This server is blocked by the federation policy of this territory.")
    if isinstance(error, UnsafeAddress):
        return _("This address points to a private or local network: it cannot be reached.")
    if isinstance(error, RemoteStatusError):
        if error.status_code in (404, 410):
            return _("Nothing was found at this address. Check the spelling.")
        return _("The server at this address answered with an error. Try again later.")
    if isinstance(error, FetchError):
        if error.message.startswith("no ActivityPub actor"):
            return _("Nothing was found at this address. Check the spelling.")
        return _("The server at this address could not be reached. Try again later.")
    if isinstance(error, OriginMismatch):
        return _("The server at this address gave an inconsistent answer: it was refused.")
    if isinstance(error, PayloadError):
        return _("Give an address such as name@territory.example or the address of its page.")
    return _("This address could not be used.")


async def local_actor(session: AsyncSession, node: Node, target: str) -> Actor | None:
    """The local actor ``target`` names, if it names one of ours (None when it is remote)."""
    domain = node.settings.instance.domain.lower()
    target = target.strip()
    handle: str | None = None
    if target.startswith(("http://", "https://")):
        if (urlsplit(target).netloc or "").lower() != domain:
            return None
        found = await local_actor_at(session, target)
        if found is not None and found.suspended_at is not None:
            # By its URL as by its name: a suspended structure is not there to follow.
            raise TargetError(_("No structure or community of this territory has this name."))
        if found is not None:
            return found
        path = urlsplit(target).path
        handle = path.rsplit("/", 1)[-1].removeprefix("@") if path.strip("/") else None
    else:
        match = ACCT_RE.match(target)
        if match:
            if match.group(2).lower() != domain:
                return None
            handle = match.group(1)
        elif "@" not in target.lstrip("@"):
            handle = target.lstrip("@").lower()
    if not handle or not re.fullmatch(HANDLE_RE, handle.lower()):
        raise TargetError(
            _("Give an address such as name@territory.example or the address of its page.")
        )
    found = await local_actor_named(session, handle.lower())
    if found is None:
        raise TargetError(_("No structure or community of this territory has this name."))
    return found


async def resolve(node: Node, target: str) -> Actor:
    """The actor behind ``target`` (local, or fetched from its server)."""
    target = target.strip()
    if not target:
        raise TargetError(_("Give the address to follow."))
    async with node.db.session() as session:
        found = await local_actor(session, node, target)
    if found is not None:
        return found
    if not (target.startswith(("http://", "https://")) or ACCT_RE.match(target)):
        raise TargetError(
            _("Give an address such as name@territory.example or the address of its page.")
        )
    try:
        return await node.remote.resolve(target)
    except FederationError as exc:
        log.info("could not resolve %s: %s", target, exc.message)
        raise TargetError(explain(exc)) from exc
