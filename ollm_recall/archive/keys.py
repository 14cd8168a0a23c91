"""The archive key, envelope style (as restic and atuin keep theirs): one random 256-bit key that
encrypts the archive, stored only wrapped, in a key file safe to sync (that is how a second device
joins): by a passphrase (argon2id), by a recovery key printed once, and optionally by the OS keyring.

Rekeying re-wraps the key; it never rewrites the archive. The key file lives in the sessions folder,
``.ollm-key.json``, written atomically (a kill leaves the old wraps or the new ones, each complete).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .._atomic import make_private_dir, write_atomic
from ..errors import KeyProblem

KEY_FILE = ".ollm-key.json"
KEY_FILE_VERSION = 1
KEY_BYTES = 32
ARGON2 = {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 1}
"""argon2id at 64 MiB and 3 passes: about 0.2 s a try on a 2-core machine."""
KEYRING_SERVICE = "ollm-recall"


@dataclass(frozen=True)
class ArchiveKey:
    """The unwrapped archive key, and its id (what file headers and messages name)."""

    key: bytes
    key_id: str


def key_id_of(key: bytes) -> str:
    """A short public name of a key: not the key, not enough to find it."""
    return hashlib.sha256(b"ollm-recall key id\0" + key).hexdigest()[:16]


def key_file_path(sessions: Path) -> Path:
    return sessions / KEY_FILE


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


def _aad(key_id: str, kind: str) -> bytes:
    return f"ollm-recall archive key {key_id} {kind}".encode()


def _seal(kek: bytes, key: bytes, key_id: str, kind: str) -> dict[str, str]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return {"nonce": _b64(nonce), "wrapped": _b64(AESGCM(kek).encrypt(nonce, key, _aad(key_id, kind)))}


def _open(kek: bytes, wrap: dict[str, Any], key_id: str, kind: str) -> bytes | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        key = AESGCM(kek).decrypt(_unb64(wrap["nonce"]), _unb64(wrap["wrapped"]), _aad(key_id, kind))
    except (InvalidTag, KeyError, ValueError):
        return None
    return key if key_id_of(key) == key_id else None


def _passphrase_kek(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    return hash_secret_raw(passphrase.encode("utf-8"), salt, hash_len=32, type=Type.ID, **params)


def _recovery_kek(recovery: bytes, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt, b"ollm-recall recovery key").derive(recovery)


def format_recovery(recovery: bytes) -> str:
    """A recovery key as people copy it: base32 in groups of four (``ABCD-EFGH-...``)."""
    text = base64.b32encode(recovery).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery(text: str) -> bytes:
    cleaned = "".join(char for char in text.upper() if char.isalnum())
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        raise KeyProblem("that is not a recovery key (groups of letters and digits, as printed)") from None


def _passphrase_wrap(key: ArchiveKey, passphrase: str) -> dict[str, Any]:
    salt = os.urandom(16)
    kek = _passphrase_kek(passphrase, salt, ARGON2)
    return {
        "kind": "passphrase",
        "kdf": "argon2id",
        "salt": _b64(salt),
        **ARGON2,
        **_seal(kek, key.key, key.key_id, "passphrase"),
    }


def _recovery_wrap(key: ArchiveKey) -> tuple[dict[str, Any], str]:
    recovery, salt = os.urandom(KEY_BYTES), os.urandom(16)
    wrap = {"kind": "recovery", "kdf": "hkdf-sha256", "salt": _b64(salt)}
    wrap |= _seal(_recovery_kek(recovery, salt), key.key, key.key_id, "recovery")
    return wrap, format_recovery(recovery)


def create_key(sessions: Path, passphrase: str) -> tuple[ArchiveKey, str]:
    """Make the archive key and its key file; returns the key and the recovery key (shown once)."""
    path = key_file_path(sessions)
    if path.exists():
        existing = read_key_file(sessions)["keyId"]
        raise KeyProblem(
            f"this archive already has a key ({existing}): `ollm key rekey` changes its passphrase"
        )
    raw = secrets.token_bytes(KEY_BYTES)
    key = ArchiveKey(raw, key_id_of(raw))
    recovery_wrap, recovery = _recovery_wrap(key)
    _write(sessions, key.key_id, [_passphrase_wrap(key, passphrase), recovery_wrap])
    return key, recovery


def read_key_file(sessions: Path) -> dict[str, Any]:
    """The key file's document; ``KeyProblem`` when there is none or it cannot be read."""
    path = key_file_path(sessions)
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise KeyProblem(f"no archive key in {sessions}: `ollm key add` makes one") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise KeyProblem(f"{path.name} cannot be read ({exc})") from None
    if (
        not isinstance(document, dict)
        or document.get("version") != KEY_FILE_VERSION
        or not isinstance(document.get("keyId"), str)
        or not isinstance(document.get("wraps"), list)
    ):
        raise KeyProblem(f"{path.name} is not an ollm-recall key file of version {KEY_FILE_VERSION}")
    return document


def unlock_with_passphrase(sessions: Path, passphrase: str) -> ArchiveKey:
    """The archive key, unwrapped by the passphrase; ``KeyProblem`` naming the key id otherwise."""
    document = read_key_file(sessions)
    key_id = document["keyId"]
    for wrap in document["wraps"]:
        if isinstance(wrap, dict) and wrap.get("kind") == "passphrase":
            try:
                params = {name: int(wrap[name]) for name in ARGON2}
                kek = _passphrase_kek(passphrase, _unb64(wrap["salt"]), params)
            except (KeyError, ValueError, TypeError):
                continue
            key = _open(kek, wrap, key_id, "passphrase")
            if key is not None:
                return ArchiveKey(key, key_id)
    raise KeyProblem(f"wrong passphrase for key {key_id}")


def unlock_with_recovery(sessions: Path, recovery_text: str) -> ArchiveKey:
    document = read_key_file(sessions)
    key_id, recovery = document["keyId"], parse_recovery(recovery_text)
    for wrap in document["wraps"]:
        if isinstance(wrap, dict) and wrap.get("kind") == "recovery":
            try:
                kek = _recovery_kek(recovery, _unb64(wrap["salt"]))
            except (KeyError, ValueError):
                continue
            key = _open(kek, wrap, key_id, "recovery")
            if key is not None:
                return ArchiveKey(key, key_id)
    raise KeyProblem(f"wrong recovery key for key {key_id}")


def set_passphrase(sessions: Path, key: ArchiveKey, passphrase: str) -> None:
    """Re-wrap the key with a new passphrase (the recovery wrap stays): the archive is not touched."""
    document = read_key_file(sessions)
    wraps = [
        wrap for wrap in document["wraps"] if isinstance(wrap, dict) and wrap.get("kind") != "passphrase"
    ]
    _write(sessions, key.key_id, [_passphrase_wrap(key, passphrase), *wraps])


def new_recovery(sessions: Path, key: ArchiveKey) -> str:
    """Replace the recovery key (the old one stops working); returns the new one, shown once."""
    document = read_key_file(sessions)
    wraps = [wrap for wrap in document["wraps"] if isinstance(wrap, dict) and wrap.get("kind") != "recovery"]
    recovery_wrap, recovery = _recovery_wrap(key)
    _write(sessions, key.key_id, [*wraps, recovery_wrap])
    return recovery


def set_encrypt(sessions: Path, on: bool, *, since: int | None = None) -> None:
    """Turn encryption of new writes on or off (``ollm encrypt`` / ``ollm decrypt``); the wraps stay.
    The time of the change (``since``, ms: now unless another device's) goes with it, so that
    devices syncing key files keep the latest."""
    document = read_key_file(sessions)
    if encrypt_state(document) != (on, since) and (since is not None or document.get("encrypt") is not on):
        stamp = since if since is not None else time.time_ns() // 1_000_000
        _write(sessions, document["keyId"], document["wraps"], encrypt=(on, stamp))


def encrypt_state(document: dict[str, Any]) -> tuple[bool, int]:
    """A key file's switch: encrypt new writes or not, and when that was set (ms; 0: never)."""
    since = document.get("encryptSince")
    return document.get("encrypt") is True, since if isinstance(since, int) else 0


def _write(
    sessions: Path, key_id: str, wraps: list[dict[str, Any]], *, encrypt: tuple[bool, int] | None = None
) -> None:
    make_private_dir(sessions)
    if encrypt is None:
        encrypt = encrypt_state(read_key_file(sessions)) if key_file_path(sessions).exists() else (False, 0)
    document = {
        "version": KEY_FILE_VERSION,
        "keyId": key_id,
        "encrypt": encrypt[0],
        "encryptSince": encrypt[1],
        "wraps": wraps,
    }
    write_atomic(key_file_path(sessions), orjson.dumps(document, option=orjson.OPT_INDENT_2))


def keyring_store(key: ArchiveKey) -> str | None:
    """Keep the key in the OS keyring, so this device unlocks without a passphrase; the reason
    when it cannot (a headless machine has no keyring: the passphrase then unlocks)."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, key.key_id, _b64(key.key))
    except Exception as exc:  # every backend raises its own kinds
        return str(exc).split(".")[0] or type(exc).__name__
    return None


def keyring_unlock(sessions: Path) -> ArchiveKey | None:
    """The key from the OS keyring, if this device keeps it there."""
    key_id = read_key_file(sessions)["keyId"]
    try:
        import keyring

        stored = keyring.get_password(KEYRING_SERVICE, key_id)
    except Exception:  # no backend, a locked one: the passphrase unlocks instead
        return None
    if not stored:
        return None
    try:
        key = _unb64(stored)
    except ValueError:
        return None
    return ArchiveKey(key, key_id) if key_id_of(key) == key_id else None
