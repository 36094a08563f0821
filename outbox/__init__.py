"""Turning local events into activities: listings, follows, messages.

Layering: imports ``config``, ``federation``, ``domain`` and ``actors``;
imported by ``inbox`` (to answer: Accept, Reject) and ``instance``.
Every shape sent is built by :mod:`outbox.to_ap` (pure functions, one module
per object family); the modules here decide when and to whom.
"""
