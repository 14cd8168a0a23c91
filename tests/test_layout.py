"""The package's layout holds."""

from __future__ import annotations


def test_an_index_written_before_the_regrouping_still_opens() -> None:
    """Its pickled schema names the full-text module by its old path, ``ollm_recall.textsearch``."""
    import pickle

    from ollm_recall.index import textsearch

    old_reference = b"c" + textsearch.SCHEMA_MODULE_BEFORE_REGROUPING.encode() + b"\nstem_plain_word\n."
    assert pickle.loads(old_reference) is textsearch.stem_plain_word
