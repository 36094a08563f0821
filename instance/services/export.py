"""One archive of what a structure published and received, to keep or to take along when
it moves (``entraide structure export``, and the « Export » button of its page).

A ``.tar.gz`` holding, under ``HANDLE-export/``:

* ``actor.json`` — its ActivityPub actor, as served;
* ``outbox.json`` — an ``OrderedCollection`` of every public activity of its outbox,
  newest first (Mastodon's archive holds the same);
* ``listings.csv``, ``exchanges.csv``, ``follows.csv``, ``messages.csv`` — one row a
  listing, exchange, follow (both directions) and message of its conversations.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.exchanges import Exchange
from domain.models import Listing, Structure
from domain.social import Message, Participant
from domain.visibility import activity_shown
from federation.models import Activity, Actor, Follow
from federation.vocab import AS_CONTEXT
from instance.api_errors import ApiError
from outbox.to_ap.actors import actor_document

FILES = (
    "actor.json",
    "outbox.json",
    "listings.csv",
    "exchanges.csv",
    "follows.csv",
    "messages.csv",
)


LISTING_FIELDS = (
    "ap_id", "kind", "status", "title", "description", "category", "modality", "quantity",
    "unit", "price_amount", "price_currency", "commune", "lat", "lon", "published_at",
    "expires_at",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode()


async def _listings(session: AsyncSession, structure: Structure) -> bytes:
    rows = await session.execute(
        select(Listing).where(Listing.structure_id == structure.id).order_by(Listing.id)
    )
    header = ("id", *LISTING_FIELDS[1:])
    return _csv(
        header, ([getattr(x, name) for name in LISTING_FIELDS] for x in rows.scalars().unique())
    )


def _exchange_row(x: Exchange) -> list[Any]:
    return [
        x.ap_id, x.listing_ap_id, x.listing_title, x.listing_kind, x.category, x.modality,
        x.proposer.uri, x.responder.uri, x.state, x.quantity, x.unit, x.value_amount,
        x.value_currency, x.message, x.created_at, x.done_at,
    ]  # fmt: skip


async def _exchanges(session: AsyncSession, actor: Actor) -> bytes:
    rows = await session.execute(
        select(Exchange)
        .where(or_(Exchange.proposer_id == actor.id, Exchange.responder_id == actor.id))
        .order_by(Exchange.id)
    )
    header = (
        "id", "listing", "listing_title", "listing_kind", "category", "modality", "proposer",
        "responder", "state", "quantity", "unit", "value_amount", "value_currency", "message",
        "created_at", "done_at",
    )  # fmt: skip
    return _csv(header, (_exchange_row(x) for x in rows.scalars().unique()))


async def _follows(session: AsyncSession, actor: Actor) -> bytes:
    rows = await session.execute(
        select(Follow)
        .where(or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id))
        .order_by(Follow.id)
    )
    return _csv(
        ("direction", "actor", "state", "since"),
        (
            (
                "following" if f.follower_id == actor.id else "follower",
                f.followed.uri if f.follower_id == actor.id else f.follower.uri,
                f.state,
                f.created_at,
            )
            for f in rows.scalars().unique()
        ),
    )


async def _messages(session: AsyncSession, actor: Actor) -> bytes:
    mine = select(Participant.conversation_id).where(Participant.actor_id == actor.id)
    rows = await session.execute(
        select(Message).where(Message.conversation_id.in_(mine)).order_by(Message.id)
    )
    header = ("conversation", "id", "author", "published_at", "in_reply_to", "text")
    return _csv(
        header,
        (_message_row(m) for m in rows.scalars().unique()),
    )


def _message_row(m: Message) -> list[Any]:
    return [m.conversation.context, m.ap_id, m.author.uri, m.published_at, m.in_reply_to,
            m.content_text]  # fmt: skip


async def _outbox(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    rows = await session.execute(
        select(Activity.body)
        .where(Activity.actor_id == actor.id, Activity.public.is_(True), activity_shown())
        .order_by(Activity.id.desc())
    )
    items = [body for (body,) in rows.all()]
    return {
        "@context": AS_CONTEXT,
        "id": actor.outbox_url,
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }


async def export_structure(
    session: AsyncSession, settings: Settings, structure: Structure
) -> bytes:
    """The archive of ``structure`` (see the module doc), as the bytes of a .tar.gz."""
    actor = structure.actor
    if actor is None:
        raise ApiError(409, "this structure is awaiting approval by an administrator")
    files = {
        "actor.json": json.dumps(actor_document(actor, settings, structure), indent=2).encode(),
        "outbox.json": json.dumps(await _outbox(session, actor), indent=2).encode(),
        "listings.csv": await _listings(session, structure),
        "exchanges.csv": await _exchanges(session, actor),
        "follows.csv": await _follows(session, actor),
        "messages.csv": await _messages(session, actor),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in FILES:
            data = files[name]
            info = tarfile.TarInfo(f"{structure.handle}-export/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
