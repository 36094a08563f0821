"""Local actors: the territory, structures, communities; their keys and documents.

Layering: imports ``config``, ``federation`` and ``domain``; imported by
``outbox``, ``inbox`` and ``instance``.
"""
