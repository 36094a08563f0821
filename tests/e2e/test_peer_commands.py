"""The peering and domain commands of docs/interface.md that the pair fixture does not use:
``peer request URL``, ``peer reject``, ``peer remove``, ``domain block|unblock|allow|list``,
run as the real console script against real ``serve`` processes on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Cluster, Node, in_parallel, wait_for

pytestmark = [pytest.mark.e2e]
TIMEOUT = 30.0


# Our territory follows theirs (outgoing) or theirs follows ours (incoming).
PEERING_SQL = {
    "outgoing": "SELECT follows.state FROM follows"
    " JOIN actors AS ours ON ours.id = follows.follower_id"
    " JOIN actors AS theirs ON theirs.id = follows.followed_id"
    " WHERE ours.local = 1 AND ours.is_territory = 1 AND theirs.is_territory = 1"
    " AND theirs.domain = ?",
    "incoming": "SELECT follows.state FROM follows"
    " JOIN actors AS ours ON ours.id = follows.followed_id"
    " JOIN actors AS theirs ON theirs.id = follows.follower_id"
    " WHERE ours.local = 1 AND ours.is_territory = 1 AND theirs.is_territory = 1"
    " AND theirs.domain = ?",
}


def peering(node: Node, host: str, direction: str) -> str | None:
    """The state of ``node``'s peering with ``host`` as ``peer list`` would print it, read
    from the node's database (waiting on it costs no process; each command's own output is
    checked once the state is reached)."""
    rows = node.sql(PEERING_SQL[direction], [host])
    return str(rows[0][0]) if rows else None


def test_request_by_url_reject_then_remove(cluster: Cluster) -> None:
    """C asks A by the territory actor's URL; A rejects: C sees its request rejected and A
    lists no peering. C asks B, B approves, then B removes C: both sides forget it."""
    a, b, c = cluster.add("a"), cluster.add("b"), cluster.add("c")
    in_parallel(a.init, b.init, c.init)
    in_parallel(a.start, b.start, c.start)

    asked = c.cli("peer", "request", f"{a.base_url}/actors/territory").stdout.strip()
    assert asked == f"{a.domain} outgoing pending"
    wait_for(
        lambda: peering(a, c.domain, "incoming") == "pending", TIMEOUT, what="A to see C's request"
    )
    assert f"{c.domain} incoming pending" in a.peers()
    rejected = a.cli("peer", "reject", c.domain).stdout.strip()
    assert rejected == f"{c.domain} incoming rejected"
    wait_for(
        lambda: peering(c, a.domain, "outgoing") == "rejected",
        TIMEOUT,
        what="C to hear that A rejected it",
    )
    assert f"{a.domain} outgoing rejected" in c.peers()
    assert a.instance()["counts"]["peers"] == 0

    c.cli("peer", "request", f"acct:territory@{b.domain}")
    wait_for(
        lambda: peering(b, c.domain, "incoming") == "pending", TIMEOUT, what="B to see C's request"
    )
    assert b.cli("peer", "approve", c.domain).returncode == 0
    wait_for(
        lambda: c.instance()["counts"]["peers"] == 1 and b.instance()["counts"]["peers"] == 1,
        TIMEOUT,
        what="B and C peered",
    )
    assert b.cli("peer", "remove", c.domain).stdout.strip() == f"{c.domain} removed"
    assert not [line for line in b.peers() if line.startswith(c.domain)]
    wait_for(
        lambda: c.instance()["counts"]["peers"] == 0,
        TIMEOUT,
        what="C to hear that B ended the peering",
    )
    bad = a.cli("peer", "reject", "nobody.example", check=False)
    assert bad.returncode == 1 and "nobody.example" in bad.stderr


def test_domain_commands(cluster: Cluster) -> None:
    """block (with a reason), allow, list and unblock change the policy as listed; unblocking
    a domain without a policy is an error; a malformed host is a usage error."""
    a = cluster.add("a")
    a.init()
    assert a.cli("domain", "block", "Spam.Example.", "--reason", "spam").returncode == 0
    assert a.cli("domain", "allow", "voisins.example").stdout.strip() == "voisins.example allowed"
    listed = set(a.cli("domain", "list").stdout.splitlines())
    assert listed == {"spam.example block", "voisins.example allow"}
    assert a.cli("domain", "unblock", "spam.example").stdout.strip() == "spam.example unblocked"
    assert a.cli("domain", "list").stdout.splitlines() == ["voisins.example allow"]
    again = a.cli("domain", "unblock", "spam.example", check=False)
    assert again.returncode == 1 and "spam.example had no policy" in again.stderr
    bad = a.cli("domain", "block", "https://x.example/path", check=False)
    assert bad.returncode == 2
