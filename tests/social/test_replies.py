"""Public replies under listings: from Mastodon and Misskey, answered, edited, deleted,
paged; refused from a blocked actor, hidden from a silenced one, ignored off-listing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from domain.replies import Reply
from federation.models import Actor
from tests.fedinet import FakeActor, network
from tests.social.replies_support import (
    deliver,
    fixture,
    key,
    listing_on,
    notifications,
    replies,
)

ALICE = "https://mastodon.test/users/alice"
MISSKEY = "https://misskey.test/users/9y2kq0f1a3"


async def test_mastodon_reply_is_shown_notified_and_answered(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Done when: a reply from a signed Mastodon-shaped actor shows under the listing and
    notifies the structure, whose answer reaches the replier's inbox as a reply."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token, listing = await listing_on(a)
        # A structure of another Entraide node follows the listing's structure.
        await b.structure("atelier", owner="at@b.example")
        token_b = await b.token("at@b.example")
        followed = await b.api(
            "POST",
            "/api/v1/follows",
            token=token_b,
            json={"actor": "atelier", "target": "acct:ferme@a.test"},
        )
        assert followed.status_code == 202, await followed.get_data()
        await net.settle()
        alice = FakeActor(ALICE, key())
        net.hooks.append(alice)
        create = fixture(
            "mastodon_create_note_reply.json", a, listing, **{"mastodon.example": "mastodon.test"}
        )
        create["object"]["content"] += "<script>alert(1)</script><img src=x onerror=alert(2)>"
        await deliver(a, alice, create)
        await net.settle()

        status, page = await replies(a, listing["id"])
        assert status == 200
        [reply] = page["items"]
        assert reply["author"] == ALICE
        assert "encore disponible" in reply["content"]
        assert "<script" not in reply["content"] and "onerror" not in reply["content"]
        assert reply["in_reply_to"] is None  # it answers the listing itself
        assert page["next"] is None
        notices = await notifications(a, token, "ferme")
        assert [n["type"] for n in notices] == ["reply", "follower"]
        notice = notices[0]
        assert notice["subject"]["listing"] == listing["id"]
        assert notice["subject"]["url"] == f"/listings/{listing['id']}#reply-{reply['id']}"

        # The page shows it under the listing.
        html = (await (await a.client().get(f"/listings/{listing['id']}")).get_data()).decode()
        assert "encore disponible" in html

        response = await a.api(
            "POST",
            f"/api/v1/listings/{listing['id']}/replies",
            token=token,
            json={"from": "ferme", "content": "Oui, samedi 10 h.", "in_reply_to": reply["id"]},
        )
        assert response.status_code == 201, await response.get_data()
        answer = await response.get_json()
        assert answer["in_reply_to"] == reply["id"]
        await net.settle()
        sent = [json.loads(r.content) for r in alice.received]
        creates = [s for s in sent if s["type"] == "Create"]
        assert creates, sent
        note = creates[-1]["object"]
        assert note["inReplyTo"] == create["object"]["id"]
        assert note["context"] == "https://mastodon.test/contexts/4419"
        assert "https://www.w3.org/ns/activitystreams#Public" in note["to"]
        assert ALICE in note["cc"]
        assert note["tag"] == [{"type": "Mention", "href": ALICE, "name": "@alice@mastodon.test"}]
        assert 'class="u-url mention"' in note["content"] and "Oui, samedi 10 h." in note["content"]

        # The other node's follower gets the answer too, as a public post: not a message.
        to_b = [act for act in net.activities_to("b.test") if act.get("type") == "Create"]
        assert [act["object"]["id"] for act in to_b] == [answer["ap_id"]]
        response = await b.api("GET", "/api/v1/messages?actor=atelier", token=token_b)
        assert (await response.get_json())["items"] == []

        # The answer joins the thread; the listing's replies collection lists both.
        status, page = await replies(a, listing["id"])
        assert [r["id"] for r in page["items"]] == [reply["id"], answer["id"]]
        collection = await a.client().get(
            f"/listings/{listing['id']}/replies", headers={"Accept": "application/activity+json"}
        )
        document = await collection.get_json()
        assert document["type"] == "OrderedCollection"
        assert document["totalItems"] == 2
        first = await a.client().get(
            document["first"].removeprefix(a.base_url),
            headers={"Accept": "application/activity+json"},
        )
        first_page = await first.get_json()
        assert first_page["type"] == "OrderedCollectionPage"
        assert first_page["partOf"] == document["id"]
        assert first_page["orderedItems"] == [create["object"]["id"], answer["ap_id"]]
        served = await a.client().get(
            answer["ap_id"].removeprefix(a.base_url),
            headers={"Accept": "application/activity+json"},
        )
        assert (await served.get_json())["inReplyTo"] == create["object"]["id"]

        # Alice edits her reply, then deletes it: both apply.
        edited = json.loads(json.dumps(create["object"]))
        edited["content"] = "<p>Finalement dimanche ?</p>"
        await deliver(
            a,
            alice,
            {
                "id": f"{edited['id']}#updates/1",
                "type": "Update",
                "actor": ALICE,
                "object": edited,
            },
        )
        await net.settle()
        _, page = await replies(a, listing["id"])
        assert "Finalement dimanche" in page["items"][0]["content"]
        await deliver(
            a,
            alice,
            {
                "id": f"{edited['id']}#delete",
                "type": "Delete",
                "actor": ALICE,
                "object": {"id": edited["id"], "type": "Tombstone"},
            },
        )
        await net.settle()
        _, page = await replies(a, listing["id"])
        assert [r["id"] for r in page["items"]] == [answer["id"]]


async def test_misskey_reply_and_reply_to_reply(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Misskey's reply (``_misskey_content`` beside the HTML) is kept; a reply to it
    joins the thread; replies to unknown or withdrawn listings are stored nowhere."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        token, listing = await listing_on(a)
        mk = FakeActor(MISSKEY, key())
        net.hooks.append(mk)
        create = fixture(
            "misskey_create_note_reply.json", a, listing, **{"misskey.example": "misskey.test"}
        )
        await deliver(a, mk, create)
        follow_up = json.loads(json.dumps(create))
        follow_up["id"] = "https://misskey.test/notes/9y2ks9zzzz/activity"
        follow_up["object"]["id"] = "https://misskey.test/notes/9y2ks9zzzz"
        follow_up["object"]["inReplyTo"] = create["object"]["id"]
        follow_up["object"]["content"] = "<p>Ou mercredi.</p>"
        await deliver(a, mk, follow_up)
        stray = json.loads(json.dumps(create))
        stray["id"] = "https://misskey.test/notes/stray/activity"
        stray["object"]["id"] = "https://misskey.test/notes/stray"
        stray["object"]["inReplyTo"] = f"{a.base_url}/listings/999999"
        await deliver(a, mk, stray)
        await net.settle()
        _, page = await replies(a, listing["id"])
        first, second = page["items"]
        assert "mardi" in first["content"]
        assert second["in_reply_to"] == first["id"]

        withdrawn = await a.api("DELETE", f"/api/v1/listings/{listing['id']}", token=token)
        assert withdrawn.status_code == 200, await withdrawn.get_data()
        late = json.loads(json.dumps(stray))
        late["id"] = "https://misskey.test/notes/late/activity"
        late["object"]["id"] = "https://misskey.test/notes/late"
        late["object"]["inReplyTo"] = listing["ap_id"]
        await deliver(a, mk, late)
        await net.settle()
        async with a.node.db.session() as session:
            stored = set((await session.execute(select(Reply.ap_id))).scalars())
        assert stored == {create["object"]["id"], follow_up["object"]["id"]}


async def test_blocked_refused_silenced_hidden(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A blocked actor's reply is refused; a silenced actor's is kept hidden and tells
    nobody; a bad page is a 422."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        token, listing = await listing_on(a)
        alice = FakeActor(ALICE, key())
        mk = FakeActor(MISSKEY, key())
        net.hooks.extend([alice, mk])
        hosts = {"mastodon.example": "mastodon.test", "misskey.example": "misskey.test"}
        await deliver(a, alice, fixture("mastodon_like.json", a, listing, **hosts))
        await deliver(a, mk, fixture("misskey_create_note_reply.json", a, listing, **hosts))
        await net.settle()
        async with a.node.db.session() as session:
            await session.execute(
                update(Actor).where(Actor.uri == ALICE).values(moderation="blocked")
            )
            await session.execute(
                update(Actor).where(Actor.uri == MISSKEY).values(moderation="silenced")
            )
            await session.execute(update(Reply).values(hidden=False))
            await session.commit()
        await deliver(a, alice, fixture("mastodon_create_note_reply.json", a, listing, **hosts))
        silenced = fixture("misskey_create_note_reply.json", a, listing, **hosts)
        silenced["id"] += "-2"
        silenced["object"]["id"] += "-2"
        await deliver(a, mk, silenced)
        await net.settle()
        async with a.node.db.session() as session:
            rows = {r.ap_id: r.hidden for r in (await session.execute(select(Reply))).scalars()}
        assert ALICE not in json.dumps(list(rows))  # refused: nothing stored
        assert rows[silenced["object"]["id"]] is True
        _, page = await replies(a, listing["id"])
        assert page["items"] == []  # the silenced actor's replies are shown to nobody
        kinds = [n["type"] for n in await notifications(a, token, "ferme")]
        assert kinds == ["reply"]  # only the first one, before the silence
        for bad in ("limit=0", "limit=abc", "cursor=nope"):
            response = await a.api("GET", f"/api/v1/listings/{listing['id']}/replies?{bad}")
            assert response.status_code == 422, bad


async def test_reply_reported_and_hidden_by_moderators(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A reply is reportable (the report names its author) and a moderator hides it like a
    community post: it leaves the API, the page and the replies collection."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        token, listing = await listing_on(a)
        await a.structure("voisin", owner="v@a.example")
        neighbour = await a.token("v@a.example")
        moderator = await a.token("mod@a.example", role="moderator")
        alice = FakeActor(ALICE, key())
        net.hooks.append(alice)
        create = fixture(
            "mastodon_create_note_reply.json", a, listing, **{"mastodon.example": "mastodon.test"}
        )
        await deliver(a, alice, create)
        await net.settle()
        _, page = await replies(a, listing["id"])
        [reply] = page["items"]

        response = await a.api(
            "POST",
            "/api/v1/reports",
            token=neighbour,
            json={"actor": "voisin", "target": create["object"]["id"], "reason": "spam"},
        )
        assert response.status_code in (200, 201), await response.get_data()
        response = await a.api("GET", "/api/v1/reports", token=moderator)
        [report] = (await response.get_json())["items"]
        assert report["target"] == ALICE or ALICE in json.dumps(report)

        answers = f"/api/v1/listings/{listing['id']}/replies"
        for who, body, status in (
            (neighbour, {"from": "voisin", "content": "Moi aussi"}, 403),  # not its listing
            (neighbour, {"from": "ferme", "content": "Usurpé"}, 403),  # not its structure
            (token, {"from": "ferme", "content": "  "}, 422),
            (token, {"from": "ferme", "content": "x" * 5001}, 422),
            (token, {"from": "ferme", "content": "Oui", "in_reply_to": 999999}, 422),
        ):
            response = await a.api("POST", answers, token=who, json=body)
            assert response.status_code == status, (body, await response.get_data())
        # Paging beyond one page: the cursor of each page leads to the next, oldest first.
        for n in range(3):
            response = await a.api(
                "POST", answers, token=token, json={"from": "ferme", "content": f"Note {n}"}
            )
            assert response.status_code == 201, await response.get_data()
        seen: list[int] = []
        status, page = await replies(a, listing["id"], limit=2)
        while True:
            assert status == 200 and len(page["items"]) <= 2
            seen += [r["id"] for r in page["items"]]
            if page["next"] is None:
                break
            status, page = await replies(a, listing["id"], limit=2, cursor=page["next"])
        assert len(seen) == 4 and seen == sorted(seen) and seen[0] == reply["id"]
        await net.settle()
        collection = await a.client().get(
            f"/listings/{listing['id']}/replies", headers={"Accept": "application/activity+json"}
        )
        assert (await collection.get_json())["totalItems"] == 4

        refused = await a.api(
            "POST", f"/api/v1/moderation/replies/{reply['id']}/hide", token=neighbour, json={}
        )
        assert refused.status_code == 403
        hidden = await a.api(
            "POST",
            f"/api/v1/moderation/replies/{reply['id']}/hide",
            token=moderator,
            json={"reason": "spam"},
        )
        assert hidden.status_code == 200, await hidden.get_data()
        _, page = await replies(a, listing["id"])
        assert [r["content"] for r in page["items"]] == [f"<p>Note {n}</p>" for n in range(3)]
        html = (await (await a.client().get(f"/listings/{listing['id']}")).get_data()).decode()
        assert "encore disponible" not in html
        collection = await a.client().get(
            f"/listings/{listing['id']}/replies", headers={"Accept": "application/activity+json"}
        )
        assert (await collection.get_json())["totalItems"] == 3
