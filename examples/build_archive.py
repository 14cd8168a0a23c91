"""Write the bundled example archive (``examples/sessions``) from the hand-written chats in ``source/``.

Deterministic: the same source gives byte-identical files. Run from the repository root:

    python examples/build_archive.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from source import code, life, long, maths_data, ops
from source.dsl import Chat, Tool

from ollm_recall import Message, Session, SessionStore, ToolCall
from ollm_recall._time import format_timestamp
from ollm_recall.archive.session import new_metadata


def _reading_seconds(text: str) -> int:
    return 20 + len(text) // 12


def _reply_seconds(text: str) -> int:
    return 3 + len(text) // 90


def build_session(chat: Chat) -> Session:
    moment = datetime.fromisoformat(chat.start).replace(tzinfo=UTC)
    start = moment
    messages: list[Message] = []
    calls: list[ToolCall] = []
    tokens = 0
    for turn in chat.turns:
        if isinstance(turn, Tool):
            moment += timedelta(seconds=2)
            calls.append(
                ToolCall(
                    id=f"tool-{len(calls) + 1}",
                    name=turn.name,
                    args=turn.args,
                    result={"llmContent": turn.output, "returnDisplay": turn.display},
                    timestamp=format_timestamp(moment),
                )
            )
            continue
        if turn.role == "user":
            if messages:
                moment += timedelta(seconds=_reading_seconds(messages[-1].content))
        else:
            moment += timedelta(seconds=_reply_seconds(turn.text))
        tokens += len(turn.text) // 4
        messages.append(Message.text(turn.role, turn.text, timestamp=format_timestamp(moment)))  # type: ignore[arg-type]
    metadata = new_metadata()
    metadata["tokenCount"] = tokens
    if chat.context_size:
        metadata["contextSize"] = chat.context_size
    metadata.update(chat.extra_metadata)
    session_id = f"session-{int(start.timestamp() * 1000)}"
    return Session(
        session_id=session_id,
        start_time=format_timestamp(start),
        last_activity=format_timestamp(moment),
        model=chat.model,
        provider=chat.provider,
        messages=messages,
        tool_calls=calls,
        metadata=metadata,
    )


def main() -> None:
    chats = [*code.CHATS, *ops.CHATS, *life.CHATS, *maths_data.CHATS, *long.CHATS]
    store = SessionStore(HERE / "sessions")
    store.ensure_directory()
    for old in store.session_files():
        old.unlink()
    for chat in chats:
        store.write(build_session(chat))
    print(f"wrote {len(chats)} sessions to {store.directory}")


if __name__ == "__main__":
    main()
