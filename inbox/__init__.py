"""Receiving: verify, store, dispatch — one handler module per activity type.

Objects received are read by :mod:`inbox.from_ap` into typed values (one
``*_from_ap`` converter per object) before a handler uses them.

Layering: imports ``config``, ``federation``, ``domain``, ``actors`` and
``outbox``; imported only by ``instance``.
"""
