"""What a search returns (``Hit``, ``SearchResult``) and the options it takes, checked before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as replaced
from datetime import datetime
from typing import Literal, TypedDict

from ..archive.redaction import Redactor
from ..archive.session import ROLES
from ..errors import UsageError
from .question_dates import DateRange
from .ranker import FirstStage
from .snippets import Snippet

Mode = Literal["hybrid", "text", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "text", "semantic")


@dataclass(frozen=True)
class Hit:
    """One session found, with its score and up to three snippets.

    ``score`` is ``relevance`` where the search estimated it (a hybrid search ranked by the second
    stage), else the ranking's own score.

    ``similarity`` is the cosine similarity of the session's best passages to the question (0 when
    the dense side was not searched): unlike ``score``, it means the same from one question to the next.
    """

    session_id: str
    score: float
    title: str
    start_time: str
    model: str
    provider: str
    snippets: list[Snippet] = field(default_factory=list)
    similarity: float = 0.0
    relevance: float | None = None
    """The estimated chance that the session is one the question is about (the second stage's
    calibrated score, date words counted), or None where the search estimated none."""
    units: tuple[tuple[float, int, int], ...] = field(default=(), repr=False, compare=False)


MAX_QUERY_CHARS = 4000
"""The longest question searched: the model reads its first 256 tokens, and each further word only
costs the full-text search time (a 3 MB question took 15 s and 830 MB)."""


def check_options(*, mode: str = "hybrid", role: str | None = None, limit: int = 1, query: str = "") -> None:
    """``UsageError`` for a mode, role, limit or query a search cannot take: checked before any work."""
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(
            f"the query is {len(query):,} characters long: at most {MAX_QUERY_CHARS:,} are searched; "
            "shorten it"
        )
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if role is not None and role not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")


@dataclass(frozen=True)
class SearchResult:
    """One search's answer: the hits, best first, and how they were found.

    ``ranked_by`` says which stage ordered them (``"second stage"``, ``"first stage"``, or the one
    side of a text or semantic search); ``first_stage`` is what the first stage knew of its candidates
    (kept when a second stage ranked or ``keep_first_stage`` asked for it); ``dates`` the question's
    date words as understood; ``below_floor`` how many of the best ``limit`` ``relevant_only`` left out;
    ``sessions_indexed`` how many sessions the index held; ``sessions_read`` how many sessions the
    words index does not hold yet were read directly (``scan``), of ``sessions_unindexed``.
    """

    hits: list[Hit]
    ranked_by: str = "first stage"
    first_stage: FirstStage | None = None
    dates: list[DateRange] = field(default_factory=list)
    below_floor: int = 0
    sessions_indexed: int = 0
    sessions_read: int = 0
    sessions_unindexed: int = 0


class SearchOptions(TypedDict, total=False):
    """The options of ``Searcher.find``, for the methods that pass them on (typed at every call)."""

    limit: int
    since: datetime | None
    until: datetime | None
    model: str | None
    provider: str | None
    role: str | None
    session: str | None
    mode: Mode
    exclude: frozenset[str]
    snippets: bool
    relevant_only: bool


def redacted_hit(hit: Hit, redactor: Redactor | None) -> Hit:
    """``hit`` with secrets in its title and snippets redacted (a snippet whose text changed loses its
    highlights: their places moved)."""
    if redactor is None:
        return hit
    snippets = []
    for snippet in hit.snippets:
        cleaned = redactor.redact_text(snippet.text)
        snippets.append(snippet if not cleaned.kinds else replaced(snippet, text=cleaned.text, highlights=()))
    return replaced(hit, title=redactor.redact_text(hit.title).text, snippets=snippets)
