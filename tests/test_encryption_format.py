"""The encrypted session file format: compressed then AES-256-GCM, header and session id bound in, so
that a moved, edited, damaged file or one of another key is refused in one line naming the key."""

from __future__ import annotations

import json
import secrets
import zlib

import pytest
from conftest import session_document

from ollm_recall.archive.encryption import HEADER_BYTES, file_key_id, open_session, seal_session
from ollm_recall.archive.keys import ArchiveKey, key_id_of
from ollm_recall.errors import CorruptSession

LIMIT = 64 * 1024 * 1024


def _key() -> ArchiveKey:
    raw = secrets.token_bytes(32)
    return ArchiveKey(raw, key_id_of(raw))


def _session() -> bytes:
    document = session_document("session-1")
    document["messages"][0]["parts"][0]["text"] = "the cabin wifi password is blue-otter-42 " * 20
    return json.dumps(document).encode()


def test_a_sealed_session_opens_to_its_bytes_and_holds_none_of_its_text() -> None:
    key, data = _key(), _session()
    sealed = seal_session(key, "session-1", data)
    assert open_session(key, "session-1", sealed, name="session-1.json.enc", limit=LIMIT) == data
    assert file_key_id(sealed) == key.key_id and len(sealed) < len(data)  # compressed first
    for needle in (b"blue-otter", b"cabin", b"session-1", key.key):
        assert needle not in sealed
    for start in range(len(sealed)):  # no zlib stream hidden in it either
        try:
            assert b"blue-otter" not in zlib.decompressobj().decompress(sealed[start:])
        except zlib.error:
            continue
    assert seal_session(key, "session-1", data) != sealed  # a fresh nonce every time


def test_moved_edited_damaged_or_foreign_files_are_refused_naming_the_key() -> None:
    key, other, data = _key(), _key(), _session()
    sealed = seal_session(key, "session-1", data)
    with pytest.raises(CorruptSession, match="another session's file"):
        open_session(key, "session-2", sealed, name="session-2.json.enc", limit=LIMIT)  # swapped
    flipped = bytearray(sealed)
    flipped[HEADER_BYTES + 5] ^= 1
    with pytest.raises(CorruptSession, match=f"does not decrypt with key {key.key_id}"):
        open_session(key, "session-1", bytes(flipped), name="x", limit=LIMIT)
    with pytest.raises(
        CorruptSession, match=f"encrypted with key {key.key_id}, not this archive's key {other.key_id}"
    ):
        open_session(other, "session-1", sealed, name="x", limit=LIMIT)
    relabelled = sealed[:8] + bytes.fromhex(other.key_id) + sealed[16:]
    with pytest.raises(CorruptSession, match="does not decrypt"):
        open_session(other, "session-1", relabelled, name="x", limit=LIMIT)  # the header is bound in
    with pytest.raises(CorruptSession, match="cut short"):
        open_session(key, "session-1", sealed[:20], name="x", limit=LIMIT)
    with pytest.raises(CorruptSession, match="more than 0 MB"):
        open_session(key, "session-1", sealed, name="x", limit=100)
