"""A structure that moves to another node (FEP-7628, as Mastodon and Mitra do it).

* :func:`add_alias` — on the NEW node: the structure's actor names its former account in
  ``alsoKnownAs`` (federated with an ``Update``). Needed before the old node moves it.
* :func:`move` — on the OLD node: the new actor is fetched (never trusted from a cache)
  and must name the old one in ``alsoKnownAs``; then ``movedTo`` is set on the old actor
  and followers get an ``Update`` and the ``Move``. A moved structure no longer
  publishes (:func:`instance.services.structures.acting_structure` refuses it).

A ``Move`` received from another node is handled by ``inbox/handlers/move.py`` (our
follows of the old actor become follows of the new one, under the same rule).
"""

from __future__ import annotations

from federation.models import Actor
from federation.remote import ACCT_RE
from instance.api_errors import ApiError
from instance.node import Node
from instance.services.structures import structure_by_handle
from outbox.actors import moved, updated

MAX_ALIASES = 10


class NotAnAlias(ApiError):
    """The new actor does not name the old one in ``alsoKnownAs``: the move is refused."""


async def _own_actor(node: Node, handle: str) -> Actor:
    async with node.db.read() as session:
        structure = await structure_by_handle(session, handle)
        if structure is None or structure.actor is None:
            raise ApiError(404, f"no approved structure {handle}")
        if structure.status != "approved":
            raise ApiError(409, f"the structure {handle} is {structure.status}")
        return structure.actor


async def _fetch(node: Node, target: str) -> Actor:
    """The actor at ``target`` (acct:user@host or its id), fetched afresh."""
    target = target.strip()
    if not target.startswith(("http://", "https://")):
        if not ACCT_RE.match(target):
            raise ApiError(422, "expected acct:HANDLE@HOST", fields={"target": "acct:HANDLE@HOST"})
        target = await node.remote.webfinger(target)
    return await node.remote.actor(target, refresh=True)


def aliases_of(actor: Actor) -> list[str]:
    """The ``alsoKnownAs`` of a fetched remote actor (its stored document)."""
    value = (actor.document or {}).get("alsoKnownAs") or []
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


async def add_alias(node: Node, handle: str, old: str) -> list[str]:
    """The structure ``handle`` names its former account ``old`` in ``alsoKnownAs``."""
    mine = await _own_actor(node, handle)
    former = await _fetch(node, old)
    if former.local or former.uri == mine.uri:
        raise ApiError(422, "the former account must be on another node")
    async with node.transaction() as session:
        structure = await structure_by_handle(session, handle)
        assert structure is not None and structure.actor is not None
        actor = structure.actor
        aliases = [a for a in (actor.also_known_as or []) if a != former.uri]
        actor.also_known_as = [*aliases, former.uri][-MAX_ALIASES:]
        await updated(session, node.settings, actor, structure)
        return list(actor.also_known_as)


async def move(node: Node, handle: str, target: str) -> str:
    """Move the structure ``handle`` to ``target``; returns the new actor's id."""
    mine = await _own_actor(node, handle)
    if mine.moved_to:
        raise ApiError(409, f"the structure {handle} has already moved to {mine.moved_to}")
    new = await _fetch(node, target)
    if new.local or new.uri == mine.uri:
        raise ApiError(422, "the new account must be on another node")
    if mine.uri not in aliases_of(new):
        raise NotAnAlias(
            422,
            f"{new.uri} does not name {mine.uri} in alsoKnownAs: "
            f"run `entraide structure alias` on its node first",
        )
    async with node.transaction() as session:
        structure = await structure_by_handle(session, handle)
        assert structure is not None and structure.actor is not None
        structure.actor.moved_to = new.uri
        await moved(session, node.settings, structure.actor, structure)
    return new.uri
