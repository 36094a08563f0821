"""The node's own data and the rules on it: people, structures, listings.

Layering: ``domain`` imports ``config`` and the generic ``federation.models``
(to link structures and listings to their actors); it never imports
``actors``, ``outbox``, ``inbox`` or ``instance``.
"""
