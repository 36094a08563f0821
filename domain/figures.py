"""The territory's figures kept up to date: one row per day and group (``stats_days``).

Each row holds what a day adds to one group of the dashboard (``instance.services.stats``):
the visible local listings published that day (offers, needs, still open), the visible
structures approved that day, the matches made that day. ``dim`` names the grouping
(``total`` with an empty ``key``, ``category``, ``commune``, ``kind`` — the structures'
kind —, ``origin``, where the peers' visible listings count too); months are read from
``day``.

Rows are never adjusted by hand: database triggers (migration ``0022_stats``) append the
day of every insert, change or deletion that could move a figure to ``stats_dirty``; the
worker recomputes those days from the listings, structures and matches themselves
(``instance.services.stats_cells.refresh``), and a read counts the days still listed there
from the same rows. So figures always equal a count made from scratch.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base

DIMENSIONS = ("total", "category", "commune", "kind", "origin")


class StatsDay(Base):
    """What one day adds to one group's figures."""

    __tablename__ = "stats_days"
    __table_args__ = (Index("ix_stats_days_dim_day", "dim", "day"),)

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    listings: Mapped[int] = mapped_column(Integer, default=0)
    offers: Mapped[int] = mapped_column(Integer, default=0)
    needs: Mapped[int] = mapped_column(Integer, default=0)
    open: Mapped[int] = mapped_column(Integer, default=0)
    structures: Mapped[int] = mapped_column(Integer, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)


class StatsDirty(Base):
    """A day whose rows of ``stats_days`` may be out of date (appended by triggers only:
    an append-only log, so concurrent writers never wait on each other)."""

    __tablename__ = "stats_dirty"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
