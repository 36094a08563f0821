"""Receiving: verify, store, dispatch — one handler module per activity type.

Layering: imports ``config``, ``federation``, ``domain``, ``actors`` and
``outbox``; imported only by ``instance``.
"""
