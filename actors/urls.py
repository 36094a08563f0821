"""The shapes of local URLs. Routes in ``instance`` serve exactly these.

Actor ids are ``/actors/<handle>`` (territory, structures and communities
share one handle namespace); their HTML pages are ``/@<handle>``, and the id
itself also answers ``text/html`` with the page (content negotiation).
"""

from __future__ import annotations

import uuid


class Urls:
    """Builds the absolute URLs of a node from its base URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def actor(self, handle: str) -> str:
        return f"{self.base}/actors/{handle}"

    def profile(self, handle: str) -> str:
        return f"{self.base}/@{handle}"

    def logo(self, handle: str, version: int) -> str:
        """A structure's logo; ``version`` (when it changed) makes a new logo a new URL."""
        return f"{self.base}/@{handle}/logo?v={version}"

    def inbox(self, handle: str) -> str:
        return f"{self.actor(handle)}/inbox"

    def outbox(self, handle: str) -> str:
        return f"{self.actor(handle)}/outbox"

    def followers(self, handle: str) -> str:
        return f"{self.actor(handle)}/followers"

    def following(self, handle: str) -> str:
        return f"{self.actor(handle)}/following"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def listing(self, listing_id: int) -> str:
        return f"{self.base}/listings/{listing_id}"

    def new_activity(self) -> str:
        return f"{self.base}/activities/{uuid.uuid4()}"

    def category(self, category_id: str) -> str:
        return f"{self.base}/categories/{category_id}"

    def tag(self, tag: str) -> str:
        return f"{self.base}/tags/{tag}"
