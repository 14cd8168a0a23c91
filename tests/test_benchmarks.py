"""The benchmark scripts run as the README says, on small inputs (their figures are not checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO


def run_script(*args: str, timeout: int = 600) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_recording_benchmark_quick(tmp_path):
    out = run_script(
        "benchmarks/recording.py", "--quick", "--samples", "10", "--repeats", "1", "--dir", str(tmp_path)
    )
    assert "record_message with auto-save" in out and "sessions list" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("10 ", "100 ", "1,000"))]) >= 3


@pytest.mark.slow
def test_retrieval_benchmark_on_a_small_layout(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "examples" / "sessions", data / "archives" / "examples")
    queries = [
        {
            "id": "q1",
            "query": "php site 502 after upgrading",
            "gold_session_ids": ["session-1772486820000"],
            "conversation": "examples",
            "candidate_cutoff": "2026-12-01T00:00:00.000Z",
            "category": "words",
        },
        {
            "id": "q2",
            "query": "starter smells of acetone",
            "gold_session_ids": ["session-1770542400000"],
            "conversation": "examples",
            "category": 2,  # LoCoMo's own categories are numbers
        },
    ]
    (data / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    other = tmp_path / "other"
    shutil.copytree(data / "archives", other / "archives")
    (other / "queries.jsonl").write_text(json.dumps(queries[1]) + "\n")
    rankings = tmp_path / "rankings.jsonl"
    out = run_script(
        "benchmarks/retrieval.py",
        "--data",
        str(data),
        "--data",
        str(other),
        "--work",
        str(tmp_path / "work"),
        "--mode",
        "hybrid",
        "--mode",
        "text",
        "--rankings-out",
        str(rankings),
    )
    assert "2 queries, 1 archives (data)" in out and "1 queries, 1 archives (other)" in out
    lines = out.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("mode")))
    header, hybrid, first_stage, text = lines[at : at + 4]
    assert header.split()[:6] == ["mode", "R@1", "R@5", "R@10", "NDCG@10", "MRR"]
    assert hybrid.split()[0] == "hybrid" and float(hybrid.split()[2]) == 1.0
    assert first_stage.split()[0] == "hybrid-1st" and text.split()[0] == "text"
    assert any(line.startswith("examples ") for line in lines)  # the per-archive table
    assert any(line.startswith("2 ") for line in lines) and any(line.startswith("words ") for line in lines)
    assert "leave one archive out" in out
    lines = [json.loads(line) for line in (tmp_path / "rankings.data.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2"]
    assert lines[0]["ranked_session_ids"][0] == "session-1772486820000"
    other_lines = (tmp_path / "rankings.other.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in other_lines] == ["q2"]


@pytest.mark.slow
def test_search_benchmark_on_a_tiny_archive(tmp_path):
    out = run_script("benchmarks/search.py", "--sessions", "12", "--repeats", "1", "--work", str(tmp_path))
    rows = [line.split() for line in out.splitlines()[1:] if not line.startswith("  first recall said")]
    assert [row[0] for row in rows] == ["12"]


@pytest.mark.slow
def test_chat_turn_benchmark_on_a_tiny_archive(tmp_path):
    out = run_script("benchmarks/chat_turn.py", "--sessions", "12", "--turns", "3", "--work", str(tmp_path))
    lines = out.splitlines()
    assert lines[0].startswith("12 sessions, 3 turns")
    assert [line.split("  ")[0] for line in lines[2:]] == [
        "recording only (recall off)",
        "recall, default threshold, back to back",
        "recall, default threshold, settled",
        "recall forced (3 sessions), back to back",
        "recall forced (3 sessions), settled",
    ]
    forced = lines[-1].split()
    assert float(forced[-1]) == 3.0
    assert sorted(p.name for p in (tmp_path / "archive-12" / "sessions").glob("*.json")).__len__() == 12


@pytest.mark.slow
def test_vectors_benchmark_on_copies_of_a_small_index(tmp_path):
    from ollm_recall.index.indexer import Index

    source = tmp_path / "source"
    shutil.copytree(REPO / "examples" / "sessions", source / "sessions")
    Index(source).sync()
    out = run_script(
        "benchmarks/vectors.py",
        "--source",
        str(source),
        "--scale",
        "3",
        "--repeats",
        "1",
        "--rescore-rows",
        "64",
        "--work",
        str(tmp_path / "work"),
    )
    lines = out.splitlines()
    assert lines[0].startswith("135 sessions")
    exact, bits = lines[-2].split("|"), lines[-1].split("|")
    assert exact[1].strip() == "exact" and bits[1].strip() == "bits"
    assert 0.0 <= float(bits[-2]) <= 1.0


@pytest.mark.slow
def test_import_export_benchmark_on_a_small_export(tmp_path):
    out = run_script("benchmarks/import_export.py", "--conversations", "30", "--work", str(tmp_path))
    lines = out.splitlines()
    assert "30 added" in lines[1] and "3 hits" in lines[2] and "30 unchanged" in lines[3]
    assert "32 files" in lines[4] and "31 files" in lines[5]  # html: 30, index, stats; md: no stats


@pytest.mark.slow
def test_fulltext_scale_benchmark_on_a_tiny_archive(tmp_path):
    out = run_script("benchmarks/fulltext_scale.py", "--sessions", "30", "--work", str(tmp_path))
    header, row = out.splitlines()[-2:]
    assert header.split()[:3] == ["sessions", "messages", "build"]
    assert row.split()[0] == "30" and float(row.split()[-2]) > 0
    assert (tmp_path / "archive-30" / "fulltext-only" / "sessions").is_dir()


def test_redaction_benchmark_runs_on_the_examples(tmp_path):
    out = run_script("benchmarks/redaction.py", "--data", str(tmp_path), "--record-sessions", "2")
    assert "labelled secrets caught" in out and "added by redaction" in out


@pytest.mark.slow
def test_mcp_benchmark_on_the_example_archive(tmp_path):
    from ollm_recall.index.indexer import Index

    shutil.copytree(REPO / "examples" / "sessions", tmp_path / "sessions")
    Index(tmp_path).sync()
    out = run_script("benchmarks/mcp_server.py", "--home", str(tmp_path), "--runs", "1")
    assert "first recall, from process start" in out and "server peak resident memory" in out


def test_evidence_queries_make_a_second_query_set_over_the_same_archives(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "examples" / "sessions", data / "archives" / "examples")
    queries = [
        {
            "id": "q1",
            "query": "what was that again?",
            "gold_session_ids": ["session-1772486820000"],
            "conversation": "examples",
            "evidence": ["nginx 502 came from the php-fpm socket path", "after an upgrade"],
        },
        {
            "id": "q2",
            "query": "no evidence here",
            "gold_session_ids": ["session-1770542400000"],
            "conversation": "examples",
            "evidence": [],
        },
    ]
    (data / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    out = tmp_path / "evidence"
    assert "1 queries written" in run_script("benchmarks/evidence_queries.py", str(out), "--data", str(data))
    written = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    assert [(q["id"], q["query"], q["gold_session_ids"]) for q in written] == [
        (
            "q1-evidence",
            "nginx 502 came from the php-fpm socket path after an upgrade",
            ["session-1772486820000"],
        )
    ]
    assert (out / "archives" / "examples").resolve() == (data / "archives" / "examples").resolve()
    run_script("benchmarks/evidence_queries.py", str(out), "--data", str(data))  # again: the link stays


def test_sets_over_shared_archives_are_left_out_together(monkeypatch):
    """Leave one set out must not train on another set's questions over the held-out archives."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from ranker_training import set_groups

    sets = {
        "realmem": [{"archive": "a"}, {"archive": "b"}],
        "locomo-dev": [{"archive": "c"}],
        "realmem-evidence": [{"archive": "b"}],
    }
    assert sorted(sorted(group) for group in set_groups(sets)) == [
        ["locomo-dev"],
        ["realmem", "realmem-evidence"],
    ]


def test_every_mutant_still_applies_and_one_is_caught(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import mutants

    for mutant in mutants.MUTANTS:  # the code each changes is still there, once
        text = (REPO / "ollm_recall" / mutant.file).read_text(encoding="utf-8")
        assert text.count(mutant.old) == 1, mutant.name
        assert all((REPO / test.split("::")[0]).is_file() for test in mutant.tests), mutant.name
    out = run_script("benchmarks/mutants.py", "fsync")
    assert "fsync: neither the data nor the rename synced" in out and "1 of 1 mutants caught" in out


@pytest.mark.slow
def test_compression_benchmark_on_the_examples(tmp_path):
    data = tmp_path / "archives" / "examples"
    shutil.copytree(REPO / "examples" / "sessions", data)
    out = run_script(
        "benchmarks/compression.py",
        "--data",
        str(tmp_path / "archives"),
        "--sessions",
        "30",
        "--repeats",
        "1",
    )
    assert "dev set sessions compressed" in out and "45 of 45" in out and "with cache" in out
