"""The use cases of messages, communities, the timeline and notifications, called directly
(``instance.services``) on a real database, without HTTP: their refusals first."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.models import Structure
from domain.notify import notify_structure
from domain.people import find_person
from domain.social import Message
from domain.validation import Invalid
from instance.errors import ApiError, Forbidden, NotFound
from instance.services import communities as groups
from instance.services import conversations as threads
from instance.services import messages as messaging
from instance.services import notifications as notices
from instance.services import timeline as timelines
from tests.support import TestNode


async def _actors(node: TestNode, *handles: str) -> list[Structure]:
    for handle in handles:
        await node.structure(handle, owner=f"{handle}@example.org")
    async with node.node.db.session() as session:
        rows = await session.execute(select(Structure).where(Structure.handle.in_(handles)))
        return sorted(rows.scalars().unique(), key=lambda s: handles.index(s.handle))


async def _message_count(node: TestNode) -> int:
    async with node.node.db.session() as session:
        return int(await session.scalar(select(func.count(Message.id))) or 0)


async def test_messages_refuse_unknown_suspended_and_self(node: TestNode) -> None:
    _, recipient = await _actors(node, "menuiserie", "ressourcerie")
    domain = node.settings.instance.domain
    async with node.node.transaction() as session:
        with pytest.raises(messaging.Refused) as unknown:
            await messaging.local_recipient(session, domain, "nobody-here")
        assert (unknown.value.field, unknown.value.reason) == ("to", "unknown_recipient")
        assert await messaging.local_recipient(session, domain, "someone@elsewhere.test") is None
        found = await messaging.local_recipient(session, domain, f"acct:ressourcerie@{domain}")
        assert found is not None and found.id == recipient.actor_id

        me = await messaging.local_recipient(session, domain, "menuiserie")
        assert me is not None
        with pytest.raises(messaging.Refused) as itself:
            await messaging.send(session, node.settings, me, me, "Bonjour")
        assert itself.value.reason == "self"
        assert itself.value.messages() == {"to": "is yourself"}

        with pytest.raises(messaging.Refused) as blank:
            await messaging.send(session, node.settings, me, found, "   ")
        assert (blank.value.field, blank.value.reason) == ("content", "missing")

        # A suspended structure receives nothing, however it was found before.
        suspended = await session.get(Structure, recipient.id)
        assert suspended is not None
        suspended.status = "suspended"
        await session.flush()
        with pytest.raises(messaging.Refused) as refused:
            await messaging.send(session, node.settings, me, found, "Bonjour")
        assert refused.value.reason == "unknown_recipient"
        with pytest.raises(messaging.Refused):
            await messaging.local_recipient(session, domain, "ressourcerie")
    assert await _message_count(node) == 0


async def test_messages_send_then_read_and_a_stranger_sees_no_thread(node: TestNode) -> None:
    await _actors(node, "menuiserie", "ressourcerie", "epicerie")
    async with node.node.transaction() as session:
        me = await messaging.local_recipient(session, node.domain, "menuiserie")
        them = await messaging.local_recipient(session, node.domain, "ressourcerie")
        assert me is not None and them is not None
        first = await messaging.send(session, node.settings, me, them, "  Bonjour  ")
        second = await messaging.send(session, node.settings, me, them, "Encore")
        assert first.content_text == "Bonjour"
        assert second.conversation_id == first.conversation_id  # the same thread
        assert second.in_reply_to == first.ap_id
        assert await threads.unread_count(session, them) == 2
        assert await threads.unread_count(session, me) == 0
        with pytest.raises(messaging.Refused) as wrong:
            await messaging.send(session, node.settings, me, them, "Hors sujet", listing_id=999_999)
        assert (wrong.value.field, wrong.value.reason) == ("listing", "unknown_listing")
        outsider = await messaging.local_recipient(session, node.domain, "epicerie")
        assert outsider is not None
        with pytest.raises(NotFound):
            await threads.messages_page(session, outsider, first.conversation_id, limit=10)
        page, more = await threads.messages_page(session, them, first.conversation_id, limit=1)
        assert [m.id for m in page] == [first.id] and more
    assert await _message_count(node) == 2


async def test_communities_refuse_a_non_member_post_and_a_stranger_admitting(
    node: TestNode,
) -> None:
    await node.person("animatrice@example.org", role="animator")
    await _actors(node, "menuiserie", "ressourcerie")
    async with node.node.transaction() as session:
        animator = await find_person(session, "animatrice@example.org")
        owner = await find_person(session, "menuiserie@example.org")
        assert animator is not None and owner is not None
        with pytest.raises(ApiError) as not_animator:
            await groups.create(session, node.settings, owner, {"handle": "x", "name": "Xx"})
        assert not_animator.value.status == 403
        community = await groups.create(
            session, node.settings, animator, {"handle": "jardins", "name": "Jardins"}
        )
        member = await groups.resolve_member(session, "menuiserie")
        outsider = await groups.resolve_member(session, "ressourcerie")

        community.open = False  # its animators admit the members
        with pytest.raises(Forbidden) as closed:
            await groups.admit_member(session, owner, community, "menuiserie")
        assert closed.value.message == "only the community's animators admit members"
        assert await groups.admit_member(session, animator, community, "menuiserie") == member
        community.open = True  # then a structure joins it itself
        assert await groups.admit_member(session, owner, community, "menuiserie") == member

        with pytest.raises(Forbidden) as refused:
            await groups.post_local(session, node.settings, community, outsider, "Bonjour")
        assert refused.value.message == "only members of the community may post in it"
        with pytest.raises(Invalid) as blank:
            await groups.post_local(session, node.settings, community, member, "  ")
        assert blank.value.messages() == {"content": "is required"}
        post = await groups.post_local(session, node.settings, community, member, " Bonjour ")
        assert post.content_text == "Bonjour"
        assert [p.id for p in await groups.posts(session, community.actor_id)] == [post.id]

        with pytest.raises(Forbidden):
            await groups.moderate_post(session, node.settings, owner, community, post.id, "pin")
        with pytest.raises(NotFound):
            await groups.remove_member(session, animator, community, "ressourcerie")
        suspended = await session.scalar(
            select(Structure).where(Structure.handle == "ressourcerie")
        )
        assert suspended is not None
        suspended.status = "suspended"
        await session.flush()
        with pytest.raises(Invalid):  # a suspended structure is admitted by no one
            await groups.admit_member(session, animator, community, "ressourcerie")


async def test_timeline_shows_member_posts_only_and_refuses_a_bad_cursor(node: TestNode) -> None:
    await node.person("animatrice@example.org", role="animator")
    await _actors(node, "menuiserie", "ressourcerie")
    with pytest.raises(Invalid):
        timelines.parse_cursor("not-a-cursor")
    async with node.node.transaction() as session:
        animator = await find_person(session, "animatrice@example.org")
        assert animator is not None
        community = await groups.create(
            session, node.settings, animator, {"handle": "jardins", "name": "Jardins"}
        )
        member = await groups.admit_member(session, animator, community, "menuiserie")
        outsider = await groups.resolve_member(session, "ressourcerie")
        first = await groups.post_local(session, node.settings, community, member, "Un")
        second = await groups.post_local(session, node.settings, community, member, "Deux")
        await groups.moderate_post(session, node.settings, animator, community, first.id, "pin")
        first_id, second_id = first.id, second.id
    async with node.node.db.session() as session:
        member = await groups.resolve_member(session, "menuiserie")
        items, cursor = await timelines.page(session, member, 1, None)
        assert [(i.kind, i.row.id) for i in items] == [("post", second_id)]
        assert cursor is not None
        rest, end = await timelines.page(session, member, 5, timelines.parse_cursor(cursor))
        assert [(i.kind, i.row.id) for i in rest] == [("announcement", first_id)]
        assert end is None
        outsider = await groups.resolve_member(session, "ressourcerie")
        assert await timelines.page(session, outsider, 5, None) == ([], None)


async def test_notifications_are_each_person_s_own(node: TestNode) -> None:
    await _actors(node, "menuiserie", "ressourcerie")
    async with node.node.transaction() as session:
        structure = await session.scalar(select(Structure).where(Structure.handle == "menuiserie"))
        assert structure is not None
        await notify_structure(session, structure.id, "message", {"from": "X"}, "/messages/1")
    async with node.node.transaction() as session:
        owner = await find_person(session, "menuiserie@example.org")
        other = await find_person(session, "ressourcerie@example.org")
        assert owner is not None and other is not None
        with pytest.raises(Forbidden):  # not one of this structure's people
            await notices.member_structure(session, other, "menuiserie")
        with pytest.raises(Invalid):
            await notices.member_structure(session, owner, 42)
        structure_id = await notices.member_structure(session, owner, "menuiserie")
        rows, more = await notices.page(session, owner, structure_id=structure_id, limit=10)
        assert len(rows) == 1 and not more and rows[0].kind == "message"
        mine = rows[0].id
        assert await notices.open_one(session, other, mine) is None
        assert await notices.mark_some_read(session, other, [mine]) == 0
        assert (await notices.page(session, other, limit=10))[0] == []
        assert await notices.mark_some_read(session, owner, [mine]) == 1
        assert await notices.mark_some_read(session, owner, [mine]) == 0
