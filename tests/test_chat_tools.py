"""The recall tool in ``ollm chat``: the model asks, the archive answers, the reply streams on, and the
call is recorded; models and servers without tools keep automatic recall only."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_chat import PAST, new_sessions, plant_archive, server_flags

from ollm_recall.chat.recall import HEADER

ASK = "what was the wifi password at the cabin? look it up"


def no_automatic_recall(home: Path) -> None:
    """A threshold nothing reaches: only the tool can bring the planted session in."""
    (home / "config.toml").write_text("recall_threshold = 0.99\n")


@pytest.mark.slow
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_the_model_calls_recall_and_the_answer_reaches_it_and_the_session(
    isolated_home: Path, model_server, cli, provider: str, stream: bool
) -> None:
    plant_archive(isolated_home)
    no_automatic_recall(isolated_home)
    server = model_server()
    flags = server_flags(server, provider)
    from ollm_recall.chat.loop import Chat
    from ollm_recall.config import load_settings

    if stream:
        result = cli("chat", *flags, "-p", ASK)
        assert result.exit_code == 0, result.stderr
        shown, stderr = result.stdout, result.stderr
    else:  # the library's unstreamed form, as a script would use it
        settings = load_settings(isolated_home, {"provider": provider, "base_url": flags[3], "model": "demo"})
        notes: list[str] = []
        chat = Chat(isolated_home, settings)
        try:
            turn = chat.send(ASK, stream=False, on_tool=lambda use: notes.append(use.summary()))
        finally:
            chat.close()
        shown, stderr = turn.reply, "\n".join(notes)

    first, second = server.requests[-2]["body"], server.requests[-1]["body"]
    assert [tool["function"]["name"] for tool in first["tools"]] == ["recall"]
    assert not any(m["content"].startswith(HEADER) for m in first["messages"])  # no automatic recall
    asked, answered = second["messages"][-2], second["messages"][-1]
    assert asked["role"] == "assistant" and asked["tool_calls"][0]["function"]["name"] == "recall"
    assert answered["role"] == "tool" and "blue-otter-42" in answered["content"]
    if provider == "openai":
        assert answered["tool_call_id"] == asked["tool_calls"][0]["id"]
    assert shown.startswith(
        "(stand-in model) The recall tool returned: Excerpts of the user's earlier chats that match the query"
    )  # the reply went on, from the tool
    said = 'recall tool: "what was the wifi password at the cabin" -> recalled 1 session: 2026-01-01'
    assert said in stderr

    [session] = new_sessions(isolated_home)
    assert [m.role for m in session.messages] == ["user", "assistant"]
    assert session.messages[1].content == shown.strip() and not session.messages[1].interrupted
    [call] = session.tool_calls
    assert call.name == "recall" and call.args == {"query": "what was the wifi password at the cabin"}
    assert "blue-otter-42" in call.result["llmContent"]
    assert call.result["returnDisplay"].startswith("recalled 1")
    assert call.timestamp <= session.messages[1].timestamp
    question, answer = PAST[0][1], PAST[0][2]  # the planted session, quoted whole, and only it
    assert call.result["llmContent"].count("<past-session ") == 1
    assert '<past-session date="2026-01-01" title="We set up the cabin router' in call.result["llmContent"]
    assert f"user: {question}\nassistant: {answer}\n</past-session>" in call.result["llmContent"]


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_a_server_without_tools_gets_automatic_recall_only(
    isolated_home: Path, model_server, cli, provider: str
) -> None:
    plant_archive(isolated_home)
    server = model_server(tools="reject")
    result = cli("chat", *server_flags(server, provider), "-p", ASK)
    assert result.exit_code == 0, result.stderr
    assert "demo takes no tools here: automatic recall only" in result.stderr
    refused, retried = server.requests[-2]["body"], server.requests[-1]["body"]
    assert "tools" in refused and "tools" not in retried
    assert "blue-otter-42" in retried["messages"][-2]["content"]  # automatic recall still works
    [session] = new_sessions(isolated_home)
    assert session.tool_calls == [] and "You said:" in session.messages[1].content


@pytest.mark.slow
def test_the_setting_turns_the_tool_off(isolated_home: Path, model_server, cli) -> None:
    plant_archive(isolated_home)
    (isolated_home / "config.toml").write_text("recall_tool = false\n")
    server = model_server()
    result = cli("chat", *server_flags(server, "ollama"), "-p", ASK)
    assert result.exit_code == 0, result.stderr
    assert all("tools" not in request["body"] for request in server.requests)
    assert "recall tool" not in result.stderr
