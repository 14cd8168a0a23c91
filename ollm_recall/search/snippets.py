"""Snippets: the messages of a hit that match the question best, excerpted, with the matched words'
spans, found by the index's own analysis (done fast: only words that can stem to a query term are
stemmed)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..archive.session import Session
from ..index.word_forms import BASE_FORMS, stem

SNIPPET_CHARS = 220


@dataclass(frozen=True)
class Snippet:
    """A best-matching message: its index, role, time, an excerpt and the highlighted spans in it."""

    message_index: int
    role: str
    timestamp: str
    text: str
    highlights: tuple[tuple[int, int], ...] = ()


@functools.lru_cache(maxsize=1)
def _irregular_bystem() -> dict[str, list[str]]:
    """Irregular forms by the stem of their base ("lead": ["led"]): they do not begin like it."""
    found: dict[str, list[str]] = {}
    for form in BASE_FORMS:
        found.setdefault(stem(form), []).append(form)
    return found


_WORD_LETTER = re.compile(r"\w")


@functools.lru_cache(maxsize=256)
def _candidate_words(terms: frozenset[str]) -> re.Pattern[str]:
    """Lower-case words that may stem to one of ``terms``: a Porter stem minus its last letter always
    begins the word it came from, so only words that begin so are stemmed (most words of a message are
    not). Matched against lower-cased text and without a leading ``\b`` (the caller checks that a match
    starts a word): either makes Python's matcher try every position, half again slower."""
    starts = {term[: max(1, len(term) - 1)] for term in terms}
    starts.update(form for term in terms for form in _irregular_bystem().get(term, ()))
    prefixes = sorted(starts, key=len, reverse=True)
    return re.compile(r"(?:" + "|".join(map(re.escape, prefixes)) + r")\w*")


def matched_words(text: str, terms: frozenset[str]) -> list[tuple[int, int, str]]:
    """(start, end, stem) of each word of ``text`` whose stem is a query term: the index's analysis,
    done fast for snippets and highlights."""
    if not terms:
        return []
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer: positions would shift
        lowered = "".join(letter if len(letter.lower()) != 1 else letter.lower() for letter in text)
    found = []
    for match in _candidate_words(terms).finditer(lowered):
        word = match.group()
        start = match.start()
        if start and _WORD_LETTER.match(lowered, start - 1):
            continue  # inside a word: a match there runs to the word's end, so no word start is missed
        if len(word) >= 2:
            word_stem = stem(word)
            if word_stem in terms:
                found.append((start, match.end(), word_stem))
    return found


def best_text_messages(session: Session, terms: set[str], *, role: str | None, limit: int) -> list[int]:
    """Indexes of the messages with the most distinct query terms (then the most matches).

    Scored here rather than in whoosh: the session is already loaded, and whoosh reads the whole
    posting list of every common query word before it can narrow to one session.
    """
    if not terms:
        return []
    wanted = frozenset(terms)
    scored = []
    for index, message in enumerate(session.messages):
        if message.exclude_from_context or (role is not None and message.role != role):
            continue
        matched = [stem for _start, _end, stem in matched_words(message.content, wanted)]
        if matched:
            scored.append((-len(set(matched)), -len(matched), index))
    return [index for *_score, index in sorted(scored)[:limit]]


def excerpt(
    text: str, terms: set[str], width: int = SNIPPET_CHARS
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Up to ``width`` characters around the first matched term, with the matched spans."""
    spans = [(start, end) for start, end, _stem_ in matched_words(text, frozenset(terms))]
    flat = " ".join(text.split())
    if not spans:
        cut = flat[:width]
        return (cut + "…" if len(flat) > width else cut), ()
    start = max(0, spans[0][0] - width // 4)
    start = text.rfind(" ", 0, start) + 1 if start > 0 else 0
    end = min(len(text), start + width)
    window = text[start:end]
    kept = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix)
    cleaned = window.replace("\n", " ")
    return prefix + cleaned + suffix, tuple((a + shift, b + shift) for a, b in kept)


def snippets_of(session: Session, terms: list[str], units, role: str | None) -> list[Snippet]:
    """Up to three snippets of a hit: its messages with the most query words, then those holding its
    closest passages by meaning (``units``: (score, first message, last message))."""
    chosen = best_text_messages(session, set(terms), role=role, limit=3)
    for _score, first, _last in units[:3]:
        if first not in chosen:
            chosen.append(first)
    snippets = []
    for index in chosen[:3]:
        if index >= len(session.messages):
            continue
        message = session.messages[index]
        text, spans = excerpt(message.content, set(terms))
        snippets.append(Snippet(index, message.role, message.timestamp, text, spans))
    return snippets
