"""The wake signal: a worker is woken after the commit of the work queued for it, not before."""

from __future__ import annotations

import asyncio

import pytest

from config.wake import Queue, wake_after_commit, woken
from tests.support import TestNode

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@sqlite_only
async def test_marked_queues_are_woken_after_commit_only(node: TestNode) -> None:
    events = node.node.background.wakeups
    for queue in Queue:
        events.setdefault(queue, asyncio.Event()).clear()
    async with node.node.transaction() as session:
        assert woken(session) == frozenset()
        wake_after_commit(session, Queue.MATCHING)
        wake_after_commit(session, Queue.MAIL)
        wake_after_commit(session, Queue.MAIL)
        assert woken(session) == {Queue.MATCHING, Queue.MAIL}
        assert not any(event.is_set() for event in events.values())
    assert events[Queue.MATCHING].is_set()
    assert events[Queue.MAIL].is_set()
    assert not events[Queue.DELIVERY].is_set()
    assert not events[Queue.INBOX].is_set()


@sqlite_only
async def test_a_rolled_back_transaction_wakes_nobody(node: TestNode) -> None:
    events = node.node.background.wakeups
    events.setdefault(Queue.DELIVERY, asyncio.Event()).clear()

    async def abandon() -> None:
        async with node.node.transaction() as session:
            wake_after_commit(session, Queue.DELIVERY)
            raise RuntimeError("abandoned")

    with pytest.raises(RuntimeError):
        await abandon()
    assert not events[Queue.DELIVERY].is_set()


def test_queue_values_are_the_worker_names() -> None:
    """``Background.register`` names the loops with these strings."""
    assert [str(queue) for queue in Queue] == ["delivery", "inbox", "matching", "mail"]
