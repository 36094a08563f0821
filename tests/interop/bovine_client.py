"""One action of a bovine actor, through bovine's client (Moo-Auth-1), printed as JSON.

Run by bovine's own venv: ``python bovine_client.py DOMAIN SECRET COMMAND [ARGS]``,
``DOMAIN`` being ``http://127.0.0.1:PORT`` (bovine then looks the actor up over
http). Commands: ``actor`` (its document), ``proxy URI`` (fetch through the
actor's ``proxyUrl``: an ``acct:`` URI is resolved by WebFinger), ``inbox``
(its inbox, items resolved), ``collection NAME`` (``followers``,
``following``), and to its outbox: ``follow ACTOR``, ``accept FOLLOW_JSON``,
``note TEXT`` (public, to its followers), ``dm ACTOR TEXT``.
"""

import asyncio
import json
import sys
from typing import Any

from bovine import BovineClient

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
MAX_ITEMS = 200


def outgoing(me: str, info: dict[str, Any], command: str, args: list[str]) -> dict[str, Any]:
    if command == "follow":
        return {"type": "Follow", "actor": me, "object": args[0], "to": [args[0]]}
    if command == "accept":
        follow = json.loads(args[0])
        return {"type": "Accept", "actor": me, "object": follow, "to": [follow["actor"]]}
    if command == "note":
        note = {
            "type": "Note",
            "attributedTo": me,
            "to": [PUBLIC],
            "cc": [info["followers"]],
            "content": args[0],
        }
        return {"type": "Create", "actor": me, "to": note["to"], "cc": note["cc"], "object": note}
    if command == "dm":
        note = {
            "type": "Note",
            "attributedTo": me,
            "to": [args[0]],
            "content": args[1],
            "tag": [{"type": "Mention", "href": args[0]}],
        }
        return {"type": "Create", "actor": me, "to": [args[0]], "object": note}
    raise SystemExit(f"unknown command {command!r}")


async def main(domain: str, secret: str, command: str, *args: str) -> None:
    async with BovineClient(domain=domain, secret=secret) as client:
        info = client.information
        out: Any
        if command == "actor":
            out = info
        elif command == "proxy":
            out = await client.proxy(args[0])
        elif command == "inbox":
            out = []
            async for item in client.inbox():
                out.append(item)
                if len(out) >= MAX_ITEMS:
                    break
        elif command == "collection":
            out = await client.get(info[args[0]])
        else:
            activity = outgoing(client.actor_id, info, command, list(args))
            response = await client.send_to_outbox({"@context": AS, **activity})
            out = {"status": response.status, "location": response.headers.get("location")}
        print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
