"""ActivityStreams documents to typed values: activities about another activity.

* :func:`answer_from_ap` — an ``Accept`` or a ``Reject``: the id of what it
  answers (a link, or the id of the embedded document), the follower an
  embedded ``Follow`` names (its ``actor``, when given as an id string), and
  the ``result`` it names (FEP-0837: the Agreement of an accepted Offer).
* :func:`undo_from_ap` — an ``Undo``: the id and type of what it takes back,
  the followed actor an embedded ``Follow`` names (its ``object``, when given
  as an id string), the id of the object an embedded ``Announce`` shared.
* :func:`announce_from_ap` — an ``Announce`` by a community (FEP-1b12): the id
  of the post it shares (the ``object`` of an announced ``Create``, else its
  own ``object``).

Each raises :class:`MalformedObject` for an activity without an id, an actor
or the expected type; what the embedded object lacks is left None and the
handler falls back on the object's id, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federation.origin import object_id
from inbox.from_ap.values import MalformedObject, types_of


@dataclass(frozen=True)
class AnswerData:
    """An Accept or a Reject received: what it answers."""

    type: str  # "Accept" or "Reject"
    id: str
    actor: str
    object_id: str | None
    follower: str | None  # the embedded Follow's actor, when an id string
    names_result: bool  # whether it has a ``result`` at all
    result: str | None  # that result, when an id string


@dataclass(frozen=True)
class UndoData:
    """An Undo received: what it takes back."""

    id: str
    actor: str
    object_id: str | None
    object_type: str | None  # the embedded document's (first) type
    followed: str | None  # the embedded document's object, when an id string
    announced: str | None  # the id of the embedded document's object (link or document)


@dataclass(frozen=True)
class AnnounceData:
    """An Announce received from a community: the post it shares."""

    id: str
    actor: str
    post: str | None


def _head(activity: dict[str, Any], *kinds: str) -> tuple[str, str, dict[str, Any] | None]:
    """(id, actor, embedded object or None) of an activity of one of ``kinds``."""
    activity_id = activity.get("id")
    actor = object_id(activity.get("actor"))
    if types_of(activity).isdisjoint(kinds) or not isinstance(activity_id, str) or not actor:
        raise MalformedObject(f"{' or '.join(kinds)} needs an id and an actor")
    inner = activity.get("object")
    return activity_id, actor, inner if isinstance(inner, dict) else None


def _first_type(obj: dict[str, Any]) -> str | None:
    kind = obj.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str)), None)
    return kind if isinstance(kind, str) else None


def _string(obj: dict[str, Any] | None, name: str) -> str | None:
    value = obj.get(name) if obj is not None else None
    return value if isinstance(value, str) else None


def answer_from_ap(activity: dict[str, Any]) -> AnswerData:
    """What an ``Accept`` or a ``Reject`` answers."""
    answer_id, actor, inner = _head(activity, "Accept", "Reject")
    result = activity.get("result")
    return AnswerData(
        type="Accept" if "Accept" in types_of(activity) else "Reject",
        id=answer_id,
        actor=actor,
        object_id=object_id(activity.get("object")),
        follower=_string(inner, "actor"),
        names_result=result is not None,
        result=result if isinstance(result, str) else None,
    )


def undo_from_ap(activity: dict[str, Any]) -> UndoData:
    """What an ``Undo`` takes back."""
    undo_id, actor, inner = _head(activity, "Undo")
    return UndoData(
        id=undo_id,
        actor=actor,
        object_id=object_id(activity.get("object")),
        object_type=_first_type(inner) if inner is not None else None,
        followed=_string(inner, "object"),
        announced=object_id(inner.get("object")) if inner is not None else None,
    )


def announce_from_ap(activity: dict[str, Any]) -> AnnounceData:
    """The post an ``Announce`` shares."""
    announce_id, actor, inner = _head(activity, "Announce")
    if inner is not None and inner.get("type") == "Create":
        post = object_id(inner.get("object"))
    else:
        post = object_id(activity.get("object"))
    return AnnounceData(id=announce_id, actor=actor, post=post)
