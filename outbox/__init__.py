"""Turning local events into activities: listings, follows, messages.

Layering: imports ``config``, ``federation``, ``domain`` and ``actors``;
imported by ``inbox`` (to answer: Accept, Reject) and ``instance``.
Converters to ActivityStreams are in :mod:`outbox.to_ap`.
"""
