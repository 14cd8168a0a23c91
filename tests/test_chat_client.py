"""The chat client over real HTTP on 127.0.0.1: both APIs, streaming and not, and every failure mode."""

from __future__ import annotations

import socket

import pytest

from ollm_recall.chat.client import ChatClient, ollama_host_url, resolve_base_url
from ollm_recall.config import load_settings
from ollm_recall.errors import ConfigError, ModelNotFound, ServerError, ServerUnreachable, StreamBroken

PROVIDERS = ["ollama", "openai"]


def client_for(server, provider: str) -> ChatClient:
    return ChatClient(provider, server.url + ("/v1" if provider == "openai" else ""), read_timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
def test_reply_arrives_with_token_counts(model_server, provider: str, stream: bool) -> None:
    server = model_server(reply="Use logrotate, daily, keep 14.")
    with client_for(server, provider) as client:
        reply = client.chat(
            "demo", [{"role": "user", "content": "rotate nginx logs?"}], context_size=8192, stream=stream
        )
        pieces = list(reply)
    assert "".join(pieces) == reply.text == "Use logrotate, daily, keep 14."
    assert reply.complete
    assert len(pieces) == (5 if stream else 1)
    assert reply.usage.prompt_tokens is not None and reply.usage.completion_tokens
    body = server.requests[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "rotate nginx logs?"}]
    assert body["stream"] is stream
    if provider == "ollama":
        assert server.requests[-1]["path"] == "/api/chat" and body["options"] == {"num_ctx": 8192}
    else:
        assert server.requests[-1]["path"] == "/v1/chat/completions" and "options" not in body


@pytest.mark.parametrize("provider", PROVIDERS)
def test_models_are_listed(model_server, provider: str) -> None:
    server = model_server(models=("qwen3:8b", "llama3.2"))
    with client_for(server, provider) as client:
        assert client.list_models() == ["llama3.2", "qwen3:8b"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_model_names_what_the_server_has(model_server, provider: str) -> None:
    server = model_server(models=("qwen3:8b", "llama3.2"))
    with client_for(server, provider) as client, pytest.raises(ModelNotFound) as caught:
        client.chat("gpt-9", [{"role": "user", "content": "hi"}])
    assert "no model 'gpt-9'" in str(caught.value) and "it has: llama3.2, qwen3:8b" in str(caught.value)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_down_is_one_clear_line(provider: str) -> None:
    url = f"http://127.0.0.1:{free_port()}" + ("/v1" if provider == "openai" else "")
    with ChatClient(provider, url) as client, pytest.raises(ServerUnreachable) as caught:
        client.chat("demo", [{"role": "user", "content": "hi"}])
    message = str(caught.value)
    assert message.startswith(f"cannot reach {'Ollama' if provider == 'ollama' else 'the OpenAI'}")
    assert url in message and "\n" not in message
    if provider == "ollama":
        assert message.endswith("is `ollama serve` running?")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_500_quotes_the_server(model_server, provider: str) -> None:
    server = model_server(behaviour="http500")
    with client_for(server, provider) as client, pytest.raises(ServerError) as caught:
        client.chat("demo", [{"role": "user", "content": "hi"}])
    assert "HTTP 500: model runner crashed: out of memory" in str(caught.value)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "behaviour,words",
    [("malformed", "malformed line"), ("die", "cut off"), ("error-event", "stopped the reply")],
)
def test_broken_streams_keep_what_arrived(model_server, provider: str, behaviour: str, words: str) -> None:
    server = model_server(behaviour=behaviour, reply="one two three four five six")
    with client_for(server, provider) as client:
        reply = client.chat("demo", [{"role": "user", "content": "count"}])
        with pytest.raises(StreamBroken) as caught:
            reply.read()
    assert words in str(caught.value)
    assert caught.value.partial == reply.text == "one two three "
    assert not reply.complete


def test_ollama_host_is_read_as_ollama_reads_it() -> None:
    assert ollama_host_url(None) == "http://127.0.0.1:11434"
    assert ollama_host_url("") == "http://127.0.0.1:11434"
    assert ollama_host_url("0.0.0.0") == "http://0.0.0.0:11434"
    assert ollama_host_url("gpu-box:8000") == "http://gpu-box:8000"
    assert ollama_host_url("http://gpu-box") == "http://gpu-box:80"
    assert ollama_host_url("https://ollama.example.com") == "https://ollama.example.com:443"
    assert ollama_host_url("https://example.com:9000/ollama/") == "https://example.com:9000/ollama"
    assert ollama_host_url("[::1]:11434") == "http://[::1]:11434"


def test_base_url_order_flag_then_environment_then_default() -> None:
    assert resolve_base_url("ollama", "http://h:1/", {"OLLAMA_HOST": "x:2"}) == "http://h:1"
    assert resolve_base_url("ollama", None, {"OLLAMA_HOST": "x:2"}) == "http://x:2"
    assert resolve_base_url("openai", None, {}) == "http://127.0.0.1:8080/v1"
    assert resolve_base_url("openai", None, {"OPENAI_BASE_URL": "http://lm:1234/v1/"}) == "http://lm:1234/v1"
    with pytest.raises(Exception, match="must start with http"):
        resolve_base_url("ollama", "ftp://x", {})


def test_settings_come_from_defaults_file_environment_and_flags(tmp_path) -> None:
    (tmp_path / "config.toml").write_text('model = "qwen3:8b"\ncontext_size = 8192\nrecall_budget = 0.3\n')
    settings = load_settings(
        tmp_path, {"context_size": 2048, "model": None}, environ={"OLLM_PROVIDER": "openai"}
    )
    sources = {s.name: s.source for s in settings.items()}
    assert (settings.model, sources["model"]) == ("qwen3:8b", str(tmp_path / "config.toml"))
    assert (settings.context_size, sources["context_size"]) == (2048, "--context-size")
    assert (settings.provider, sources["provider"]) == ("openai", "$OLLM_PROVIDER")
    assert (settings.recall, sources["recall"]) == (True, "default")
    assert settings.recall_budget == 0.3


@pytest.mark.parametrize(
    "text,words",
    [
        ("modle = 'x'\n", "unknown setting 'modle'"),
        ("context_size = 'big'\n", "context_size must be a whole number"),
        ("recall_budget = 2\n", "recall_budget must be between 0 and 1"),
        ("provider = 'lmstudio'\n", "provider must be ollama or openai"),
        ("model = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_file(tmp_path, text: str, words: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert words in str(caught.value) and str(tmp_path / "config.toml") in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "body,said",
    [
        ({"error": "model 'x' not found"}, "model 'x' not found"),  # Ollama
        (
            {"error": {"message": "The model `x` does not exist.", "type": "invalid_request_error"}},
            "The model `x` does not exist.",
        ),  # OpenAI, LM Studio
        (
            {"object": "error", "message": "The model `x` does not exist.", "code": 404},
            "The model `x` does not exist.",
        ),
        ({"detail": "Not authenticated"}, "Not authenticated"),
    ],
)
def test_the_servers_own_words_are_quoted(body, said) -> None:
    import httpx

    from ollm_recall.chat.client import _server_message

    assert _server_message(httpx.Response(404, json=body)) == said
    assert _server_message(httpx.Response(502, text="<html>Bad Gateway</html>")) == "<html>Bad Gateway</html>"


def test_a_password_in_the_base_url_is_never_shown_in_an_error() -> None:
    client = ChatClient("openai", "http://me:s3cret-pass@127.0.0.1:9/v1", read_timeout=5.0)
    with pytest.raises(ServerUnreachable) as caught:
        client.list_models()
    client.close()
    assert "s3cret-pass" not in str(caught.value) and "http://me:***@127.0.0.1:9/v1" in str(caught.value)
