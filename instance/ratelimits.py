"""Rate limits, decided in one place from the request's method and path.

docs/interface.md promises 429 with ``Retry-After``. The limits are applied here,
by path, rather than by decorating views, so that pages and federation
endpoints written in other modules are covered without touching them:

* ``api``: every route under ``/api/v1/``, counted per API token (per client
  IP without one), ``ratelimit.api_per_minute`` a minute;
* ``login``: ``POST /login``, and the other forms that check a password or a code
  (``/login/code``, ``/account/password``, ``/account/two-factor/disable``), per client
  IP, ``ratelimit.login_per_minute``;
* ``signup``: ``POST /signup``, per client IP, ``ratelimit.signup_per_hour``;
* ``password_reset``: ``POST /password/reset``, per client IP, the same number an hour
  (and per address: ``instance.services.password_reset``);
* ``inbox``: ``POST /inbox`` and ``POST /actors/<handle>/inbox``, per client
  IP, ``ratelimit.inbox_per_minute``;
* ``inbox_domain``: the same deliveries counted per remote domain,
  ``ratelimit.inbox_per_domain_per_minute``. This one is counted *after* the
  signature has been verified (:func:`check_inbox_domain`, called by the
  inbox): a domain is known only once its key has spoken, so nobody can spend
  a peer's budget by writing its name in a ``keyId``. A server spread over
  many addresses is still held to one budget. Unverified floods are the
  per-IP rule's business.

A budget is shared by all the routes of a rule (300 API calls a minute, not
300 per endpoint). The algorithm is quart-rate-limiter's GCRA, which allows
a burst of the whole budget and then one request every ``period / count``.

The client IP is the socket's peer (ASGI ``scope["client"]``). A client can
write any ``X-Forwarded-For`` it likes, so that header is believed only when
the peer is one of ``web.trusted_proxies``, walking it from the right (the
hop our proxy added) to the first address that is not a trusted proxy.

Counters live in this process's memory: a restart forgets them, and with
several web processes each has its own. Expired counters are dropped, so
clients that rotate made-up tokens cannot grow memory without bound.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import Any

from quart import Quart, Response, current_app, render_template, request
from quart_rate_limiter import RateLimit, RateLimiter, RateLimitExceeded
from quart_rate_limiter.store import RateLimiterStoreABC

from config.settings import Settings
from federation.policy import bare_host
from instance.auth import bearer_token
from instance.errors import json_error

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ACTOR_INBOX = re.compile(r"/actors/[^/]+/inbox")


def client_ip(trusted: Sequence[Network] = ()) -> str:
    """The address of the client of the current request (see the module docstring)."""
    peer = request.remote_addr or "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("X-Forwarded-For")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@dataclass
class Rule(RateLimit):
    """A limit with a name; requests of one rule share one budget per client."""

    name: str = ""


class _Limiter(RateLimiter):
    """quart-rate-limiter, choosing its limits by path instead of by view function.

    Two hooks of the library are overridden: which limits apply to the
    current request, and the key of a counter (the rule's name instead of
    the endpoint, so that a rule's routes share a budget).
    """

    def __init__(self, rules: list[tuple[Rule, Any]], store: RateLimiterStoreABC) -> None:
        super().__init__(store=store)
        self.rules = rules

    def _get_limits_for_view_function(self, view_func: Any, blueprint: Any) -> list[RateLimit]:
        return [rule for rule, applies in self.rules if applies()]

    async def _create_key(self, endpoint: str, rate_limit: RateLimit) -> str:
        key_function = rate_limit.key_function or self.key_function
        name = rate_limit.name if isinstance(rate_limit, Rule) else endpoint
        return f"{name}:{await key_function()}"


class ExpiringMemoryStore(RateLimiterStoreABC):
    """Counters in memory, dropping those that no longer hold anything back.

    A GCRA counter whose theoretical arrival time is past is the same as no
    counter, so it can go; pruning runs at most every ``prune_every`` seconds.
    """

    def __init__(self, prune_every: float = 30.0) -> None:
        self._tats: dict[str, datetime] = {}
        self._prune_every = timedelta(seconds=prune_every)
        self._pruned = datetime.now(UTC)

    async def get(self, key: str, default: datetime) -> datetime:
        return self._tats.get(key, default)

    async def set(self, key: str, tat: datetime) -> None:
        self._tats[key] = tat
        now = datetime.now(UTC)
        if now - self._pruned > self._prune_every:
            self._tats = {k: v for k, v in self._tats.items() if v > now}
            self._pruned = now

    def __len__(self) -> int:
        return len(self._tats)

    async def before_serving(self) -> None:
        return None

    async def after_serving(self) -> None:
        return None


class DomainLimit:
    """The GCRA of quart-rate-limiter for one budget per remote domain, checked on demand."""

    def __init__(self, count: int, period: timedelta, store: RateLimiterStoreABC) -> None:
        self.rule = Rule(count, period, name="inbox_domain")
        self.store = store

    async def hit(self, domain: str) -> None:
        """Count one delivery from ``domain``; raise ``RateLimitExceeded`` over budget."""
        now = datetime.now(UTC)
        key = f"{self.rule.name}:{domain}"
        tat = max(await self.store.get(key, now), now)
        max_interval = self.rule.period.total_seconds() - self.rule.inverse
        if (tat - now).total_seconds() > max_interval:
            retry_after = ((tat - timedelta(seconds=max_interval)) - now).total_seconds()
            raise RateLimitExceeded(ceil(retry_after))
        await self.store.set(key, tat + timedelta(seconds=self.rule.inverse))


async def check_inbox_domain(domain: str) -> None:
    """Count a verified delivery against its host's budget (429 when over it).

    The port is left out: one host does not get a budget per port it listens on.
    """
    limit = current_app.extensions.get("entraide_inbox_domain_limit")
    if limit is not None:
        await limit.hit(bare_host(domain))


def _is_api() -> bool:
    return request.path.startswith("/api/v1/")


def _is_post(path: str) -> bool:
    return request.method == "POST" and request.path == path


_PASSWORD_CHECKS = frozenset(
    {"/login", "/login/code", "/account/password", "/account/two-factor/disable"}
)


def _is_login_post() -> bool:
    """Every form that checks a password or a code shares the login budget."""
    return request.method == "POST" and request.path in _PASSWORD_CHECKS


def _is_inbox_post() -> bool:
    if request.method != "POST":
        return False
    return request.path == "/inbox" or _ACTOR_INBOX.fullmatch(request.path) is not None


def _prefers_html() -> bool:
    """True for browsers (they rank text/html above JSON); scripts sending */* get JSON."""
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def init_rate_limits(app: Quart, settings: Settings) -> None:
    """Install the limits of ``settings.ratelimit`` on ``app`` (nothing when disabled)."""
    limits = settings.ratelimit
    if not limits.enabled:
        return
    trusted = [ipaddress.ip_network(entry, strict=False) for entry in settings.web.trusted_proxies]

    async def by_ip() -> str:
        return "ip:" + client_ip(trusted)

    async def by_token_or_ip() -> str:
        token = bearer_token()
        if token:
            # Only a digest is kept in memory: the counter keys are not secrets.
            return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        return await by_ip()

    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    rules: list[tuple[Rule, Any]] = [
        (Rule(limits.api_per_minute, minute, by_token_or_ip, name="api"), _is_api),
        (Rule(limits.login_per_minute, minute, by_ip, name="login"), _is_login_post),
        (Rule(limits.signup_per_hour, hour, by_ip, name="signup"), lambda: _is_post("/signup")),
        (
            Rule(limits.signup_per_hour, hour, by_ip, name="password_reset"),
            lambda: _is_post("/password/reset"),
        ),
        (Rule(limits.inbox_per_minute, minute, by_ip, name="inbox"), _is_inbox_post),
    ]
    store = ExpiringMemoryStore()
    limiter = _Limiter(rules, store)
    limiter.init_app(app)
    app.extensions["entraide_rate_limiter"] = limiter
    app.extensions["entraide_inbox_domain_limit"] = DomainLimit(
        limits.inbox_per_domain_per_minute, minute, store
    )

    @app.errorhandler(RateLimitExceeded)
    async def _too_many(error: RateLimitExceeded) -> Any:
        seconds = error.retry_after if isinstance(error.retry_after, int) else 60
        retry_after = str(max(1, seconds))
        message = f"too many requests; retry in {retry_after} s"
        if _prefers_html() and not _is_api():
            body = await render_template("error.html", status=429, error=error)
            return Response(body, 429, {"Retry-After": retry_after})
        return json_error(429, message, code="rate_limited", headers={"Retry-After": retry_after})
