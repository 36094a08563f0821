"""Local actors: the territory, structures, communities; their keys and URLs (their
documents are built by ``outbox/to_ap/actors.py``).

Layering: imports ``config``, ``federation`` and ``domain``; imported by
``outbox``, ``inbox`` and ``instance``.
"""
