"""simonw/llm's ``logs.db`` (SQLite, opened read-only): each row of ``responses`` is one exchange, a
prompt and its response, grouped into ``conversations`` by ``conversation_id`` (a response logged
without one is a conversation of its own)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ...errors import ImportFormatError
from .conversation import Broken, Conversation, Items, Turn, iso_time

SOURCE = "llm"


def read(path: Path) -> Items:
    """Every conversation of an llm log database (``logs.db``, or the folder that holds it)."""
    database = path / "logs.db" if path.is_dir() else path
    if not database.is_file():
        raise ImportFormatError(f"{database}: no such file (llm keeps its log in logs.db)")
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{database}: cannot open: {exc}") from None
    try:
        yield from _conversations(connection, str(database))
    except sqlite3.DatabaseError as exc:
        raise ImportFormatError(f"{database}: not an llm log database ({exc})") from None
    finally:
        connection.close()


def _conversations(connection: sqlite3.Connection, name: str) -> Iterator[Conversation | Broken]:
    tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
    if "responses" not in tables:
        raise sqlite3.DatabaseError("no responses table")
    names = (
        dict(connection.execute("select id, name from conversations")) if "conversations" in tables else {}
    )
    rows = connection.execute(
        "select id, model, prompt, system, response, conversation_id, datetime_utc from responses "
        "order by coalesce(conversation_id, id), datetime_utc, id"
    )
    current: str | None = None
    exchanges: list[tuple] = []
    for row in rows:
        key = row[5] or row[0]
        if current is not None and key != current:
            yield _conversation(current, names.get(current), exchanges, name)
            exchanges = []
        current = key
        exchanges.append(row)
    if current is not None:
        yield _conversation(current, names.get(current), exchanges, name)


def _conversation(key: str, title: str | None, rows: list[tuple], name: str) -> Conversation | Broken:
    turns: list[Turn] = []
    times: list[datetime] = []
    for _id, _model, prompt, system, response, _conversation_id, when in rows:
        moment = iso_time(when)
        if moment is None:
            return Broken(f"{name}: conversation {key}", f"a response has no readable time ({when!r})")
        times.append(moment)
        if system and not turns:
            turns.append(Turn("system", str(system), moment))
        turns.append(Turn("user", str(prompt or ""), moment))
        turns.append(Turn("assistant", str(response or ""), moment))
    return Conversation(
        source=SOURCE,
        original_id=str(key),
        title=str(title or ""),
        turns=turns,
        model=str(rows[-1][1] or "llm"),
        created=min(times),
        updated=max(times),
    )
