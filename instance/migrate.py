"""Schema migrations (Alembic), run programmatically.

The schema changes only through the revisions in ``instance/migrations``.
``entraide init`` and ``entraide db upgrade`` call :func:`upgrade`; tests
prove with :func:`pending_changes` that the models and the migrations agree.
Tables or indexes that the ORM does not describe (SQLite FTS5 virtual tables,
PostgreSQL ``tsvector`` columns) are created by revisions with raw SQL and
named with the ``search_`` prefix, which :func:`include_object` leaves out of
the comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

import domain.exchanges
import domain.figures
import domain.idempotency
import domain.matches
import domain.models
import domain.outgoing_mail
import domain.places
import domain.replies
import domain.second_factor
import domain.social
import domain.team
import federation.backfill
import federation.models
from config.database import Base

# The model modules are imported for their side effect: registering tables.
_MODEL_MODULES = (
    federation.models,
    domain.models,
    domain.places,
    domain.social,
    domain.matches,
    domain.exchanges,
    domain.outgoing_mail,
    domain.team,
    domain.second_factor,
    domain.replies,
    domain.idempotency,
)
target_metadata: MetaData = Base.metadata
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the hand-made search tables, columns and indexes out of autogenerate."""
    if name and (name.startswith("search_") or name.startswith("sqlite_")):
        return False
    return not (type_ == "table" and name and name.startswith("listings_fts"))


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "heads") -> list[str]:
    """Apply pending migrations (synchronous: call it outside a running loop).

    Returns the revisions applied, oldest first (empty when the schema was current).
    """
    config = alembic_config(url)
    applied: list[str] = []

    def record(*_args: Any, step: Any, **_kw: Any) -> None:
        applied.extend(str(r) for r in step.up_revision_ids)

    config.attributes["on_version_apply"] = record
    command.upgrade(config, revision)
    return applied


def describe_upgrade(applied: list[str]) -> str:
    """What ``entraide db upgrade`` prints after :func:`upgrade` to the heads."""
    at = ", ".join(sorted(head_revisions()))
    if not applied:
        return f"database schema already up to date at revision {at}"
    what = "migration" if len(applied) == 1 else "migrations"
    return f"applied {len(applied)} {what} ({', '.join(applied)}): now at revision {at}"


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def is_current(connection: Connection) -> bool:
    """True when the database is at the head revision(s)."""
    return current_revisions(connection) == head_revisions()


def pending_changes(connection: Connection) -> list[Any]:
    """Differences between the models and the migrated database (empty when they agree)."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, target_metadata))
