"""The JSON API and the web pages are thin adapters: they parse a request, call a service
of ``instance/services/`` and render or serialise its result. They hold no SQL, and
neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("instance/api", "instance/web")

# Modules that may still hold SQL or import the other adapter: none. (A module added
# here must be on its way out; the test below fails once it no longer needs to be.)
PENDING_SQL: set[str] = set()
PENDING_WEB_TO_API: set[str] = set()

SESSION_CALLS = {
    "execute", "scalar", "scalars", "get", "add", "add_all", "delete", "commit", "flush",
    "merge", "refresh", "stream",
}  # fmt: skip
SQL_NAMES = {"select", "insert", "update", "delete", "text", "and_", "or_", "not_", "exists"}
ALLOWED_SQLALCHEMY = {"sqlalchemy.ext.asyncio", "sqlalchemy.exc"}


def sql_in(source: str) -> list[str]:
    """Where ``source`` builds or runs SQL itself: one ``line: what`` per finding."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "sqlalchemy" and node.module not in ALLOWED_SQLALCHEMY:
                found.append(f"{line}: from {node.module} import …")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    found.append(f"{line}: import {alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in SQL_NAMES:
                found.append(f"{line}: {func.id}(")
            elif isinstance(func, ast.Attribute):
                owner = func.value
                owner_name = (
                    owner.id
                    if isinstance(owner, ast.Name)
                    else owner.attr
                    if isinstance(owner, ast.Attribute)
                    else ""
                )
                if func.attr == "where":
                    found.append(f"{line}: .where(")
                elif owner_name == "session" and func.attr in SESSION_CALLS:
                    found.append(f"{line}: session.{func.attr}(")
                elif owner_name == "func":
                    found.append(f"{line}: func.{func.attr}(")
    return found


def _modules() -> list[Path]:
    return sorted(p for folder in ADAPTERS for p in (ROOT / folder).glob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_check_finds_sql() -> None:
    source = (
        "from sqlalchemy import func, select\n"
        "async def page(session, node):\n"
        "    await session.execute(select(A).where(A.id == 1))\n"
        "    n = await node.db.session().scalar(func.count())\n"
        "    session.add(A())\n"
        "    await session.get(A, 1)\n"
    )
    assert sorted(sql_in(source)) == [
        "1: from sqlalchemy import …",
        "3: .where(",
        "3: select(",
        "3: session.execute(",
        "4: func.count(",
        "5: session.add(",
        "6: session.get(",
    ]
    allowed = (
        "from sqlalchemy.ext.asyncio import AsyncSession\nasync with node.db.session() as s: ..."
    )
    assert sql_in(allowed) == []


def test_api_and_web_modules_hold_no_sql() -> None:
    bad = {}
    for path in _modules():
        if _name(path) in PENDING_SQL:
            continue
        found = sql_in(path.read_text(encoding="utf-8"))
        if found:
            bad[_name(path)] = found
    assert bad == {}


def test_pending_exceptions_are_still_needed() -> None:
    """A module that no longer holds SQL leaves the list (so the list only shrinks)."""
    for name in PENDING_SQL:
        path = ROOT / name
        if path.exists():
            assert sql_in(path.read_text(encoding="utf-8")), f"{name}: remove from PENDING_SQL"


def test_web_and_api_never_import_each_other() -> None:
    bad = {}
    for path in _modules():
        name = _name(path)
        other = "instance.web" if name.startswith("instance/api/") else "instance.api"
        if name in PENDING_WEB_TO_API:
            continue
        wrong = sorted(m for m in _imported(path) if m == other or m.startswith(other + "."))
        if wrong:
            bad[name] = wrong
    assert bad == {}
