"""Announces by community Groups (FEP-1b12): see ``inbox.communities``."""

from __future__ import annotations

from inbox.communities import handle_group_announce, undo_group_announce

__all__ = ["handle_group_announce", "undo_group_announce"]
