"""The HTML export, opened from disk in headless Chromium (Debian's chromium package): what a person
sees is what the test checks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, SUBPROCESS_CEILING

NGINX_502 = "session-1772486820000"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is needed for the HTML export tests: apt-get install chromium")


def browse(url: str, profile: Path, *extra: str) -> str:
    """What Chromium renders of ``url`` (the DOM after scripts ran), or what it printed."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_CEILING,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from ollm_recall.cli.app import app

    home = tmp_path_factory.mktemp("home")
    shutil.copytree(REPO / "examples" / "sessions", home / "sessions")
    out = home / "site"
    result = CliRunner().invoke(
        app, ["--home", str(home), "export", "--all", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_the_index_page_lists_every_session_and_filters_them(site: Path, tmp_path: Path):
    dom = browse((site / "index.html").as_uri(), tmp_path / "profile", "--dump-dom")
    rows = re.findall(r"<tr data-text=\"[^\"]*\"( hidden=\"\")?>", dom)
    assert len(rows) == 45 and not any(rows)
    assert "45 of 45 sessions" in dom
    assert f'href="{NGINX_502}.html"' in dom and "nginx returns 502 Bad Gateway" in dom
    filtered = browse((site / "index.html").as_uri() + "?q=nginx+502", tmp_path / "profile", "--dump-dom")
    shown = re.findall(r"<tr data-text=\"([^\"]*)\">", filtered)
    assert shown and all("nginx" in text and "502" in text for text in shown)
    assert f"{len(shown)} of 45 sessions" in filtered and len(shown) < 45
    assert not re.search(r"<(script|img|iframe)[^>]* src=|<link |url\(", dom)  # nothing to fetch


@pytest.mark.slow
def test_a_session_page_shows_its_messages_and_code(site: Path, tmp_path: Path):
    dom = browse((site / f"{NGINX_502}.html").as_uri(), tmp_path / "profile", "--dump-dom")
    assert "<h1>nginx returns 502 Bad Gateway for my PHP site" in dom
    assert len(re.findall(r"<h3>User · ", dom)) >= 2 and "<h3>Assistant · " in dom
    assert re.search(r"<pre><code class=\"language-\w+\">", dom) and "fastcgi_pass" in dom
    assert '<a href="index.html">' in dom


@pytest.mark.slow
def test_a_screenshot_of_the_site(site: Path, tmp_path: Path):
    shot = tmp_path / "index.png"
    browse(
        (site / "index.html").as_uri(),
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1100,800",
        "--hide-scrollbars",
    )
    width, height, pixels = decode_png(shot.read_bytes())
    assert (width, height) == (1100, 800)
    background, count = Counter(pixels).most_common(1)[0]
    assert sum(background) > 600, "the page is not drawn light"  # light theme in a headless browser
    inked = [pixel for pixel in pixels if sum(pixel) < 300]  # dark text on it
    assert 0.005 < len(inked) / len(pixels) < 0.5 and count / len(pixels) > 0.4
    rows_with_text = {index // width for index, pixel in enumerate(pixels) if sum(pixel) < 300}
    assert len(rows_with_text) > 200  # lines of text down the page, not one smudge


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes), decoded here
    so the test needs no imaging package."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    assert header[8] == 8 and header[9] in (2, 6) and header[12] == 0, "8-bit RGB(A), not interlaced"
    channels = 3 if header[9] == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    previous, pixels = bytearray(stride), []
    for row in range(height):
        kind, line = (
            raw[row * (stride + 1)],
            bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                near = min(
                    (abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner)
                )
                line[i] = (line[i] + near[2]) & 255
        pixels.extend(tuple(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels


def test_raw_html_in_a_message_is_shown_not_run(tmp_path: Path):
    from ollm_recall import Message
    from ollm_recall.archive.session import Session
    from ollm_recall.transfer.html_export import session_page

    session = Session(
        session_id="s-1",
        start_time="2026-01-01T00:00:00.000Z",
        last_activity="2026-01-01T00:00:00.000Z",
        model="m",
        provider="ollama",
        messages=[
            Message.text(
                "user", "<script>alert(1)</script> and <b>bold</b>", timestamp="2026-01-01T00:00:00.000Z"
            )
        ],
    )
    page = session_page(session)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_jsonl_and_markdown_index_and_selection(cli, tmp_path: Path, isolated_home: Path):
    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    out = tmp_path / "lines"
    assert cli("export", "--model", "gemma3", "--format", "jsonl", "--out", str(out)).exit_code == 0
    lines = (out / "sessions.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["model"].startswith("gemma3") for line in lines)
    piped = cli("export", "--since", "2026-03-01", "--until", "2026-03-31", "--format", "jsonl")
    march = [json.loads(line) for line in piped.stdout.splitlines()]
    assert march and all(s["startTime"].startswith("2026-03") for s in march)
    md = tmp_path / "md"
    assert cli("export", "--all", "--out", str(md)).exit_code == 0
    index = (md / "index.md").read_text()
    assert index.startswith("# Chat sessions") and f"]({NGINX_502}.md)" in index
    assert index.count("\n|") == 2 + 45  # the header, its rule, and a row per session
    html_to_stdout = cli("export", "--all", "--format", "html")
    assert html_to_stdout.stderr.startswith("error: --format html of several sessions writes a folder")
    assert "give session ids or" in cli("export", NGINX_502, "--since", "7d").stderr


@pytest.mark.slow
def test_export_what_a_recall_query_finds(cli, isolated_home: Path):
    sessions = isolated_home / "sessions"
    sessions.mkdir(parents=True)
    for sid in (NGINX_502, "session-1773044100000", "session-1770542400000", "session-1795201200000"):
        shutil.copy(REPO / "examples" / "sessions" / f"{sid}.json", sessions)
    result = cli("export", "--query", "php site returns 502 bad gateway", "--limit", "2", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    found = [json.loads(line)["sessionId"] for line in result.stdout.splitlines()]
    assert found == [NGINX_502]  # the others (nginx logs, sourdough, Iceland): below the relevance floor


def test_a_page_never_fetches_anything_a_message_points_at(tmp_path: Path):
    from ollm_recall import Message
    from ollm_recall.archive.session import Session
    from ollm_recall.transfer.html_export import session_page

    leak = "http://127.0.0.1:9/leak?data=secret"
    session = Session(
        session_id="s-1",
        start_time="2026-01-01T00:00:00.000Z",
        last_activity="2026-01-01T00:00:00.000Z",
        model="m",
        provider="ollama",
        messages=[Message.text("assistant", f"here: ![chart]({leak})", timestamp="2026-01-01T00:00:00.000Z")],
    )
    page = session_page(session)
    assert "<img" not in page and f'<a href="{leak}" rel="noreferrer">[image: chart]</a>' in page
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy and "default-src 'none'" in policy.group(1) and "img-src data:" in policy.group(1)


@pytest.mark.slow
def test_the_site_has_a_stats_page_linked_from_its_index(site: Path, tmp_path: Path):
    assert 'href="stats.html"' in (site / "index.html").read_text()
    dom = browse((site / "stats.html").as_uri(), tmp_path / "profile", "--dump-dom")
    assert "45 sessions" in dom and dom.count('role="img"') >= 5
    assert "<script" not in (site / "stats.html").read_text()
