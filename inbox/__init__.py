"""Receiving: what a stored activity does — one handler module per activity type.

An activity crosses these steps, in these files:

1. **Receive and verify** — ``instance/ap/inbox.py`` (``POST /inbox`` and
   ``POST /actors/<handle>/inbox``): size, content type and JSON limits
   (``federation/payload.py``); the domain policy (``federation/policy.py``);
   the HTTP signature (``federation/signatures.py``, keys through
   ``federation/remote.py``); the origin rules (``federation/origin.py``).
2. **Store** — ``federation/inbox_store.py``: the verified activity
   (:class:`~federation.inbox_store.VerifiedActivity`) becomes a row of
   ``inbox_items`` in a shared transaction (``GroupCommit``), committed before
   the sender hears 202.
3. **Dispatch** — ``inbox/processor.py`` claims the rows in order of arrival,
   reads each as an :class:`~inbox.activity.Incoming` (``inbox/activity.py``) and
   calls the handler of its type, from the table of ``inbox/dispatch.py``.
4. **Handle** — ``inbox/handlers/<type>.py``, each given the
   :class:`~inbox.context.Context` (``inbox/context.py``); objects are read by the
   converters (``inbox/from_ap/``) and the work
   shared by several handlers is in ``inbox/listings.py``,
   ``inbox/communities.py`` and ``inbox/exchanges.py``.

The loop that runs the processor is started by ``instance/workers.py``.

Objects received are read by :mod:`inbox.from_ap` into typed values (one
``*_from_ap`` converter per object) before a handler uses them.

Layering: imports ``config``, ``federation``, ``domain``, ``actors`` and
``outbox``; imported only by ``instance``.
"""
