"""The ONNX Runtime path of the embedder: exported once, kept, and the same vectors as the reference."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SUBPROCESS_CEILING

from ollm_recall.embedding import embedder as embedder_module
from ollm_recall.embedding.embedder import Embedder, bundled_model_dir

TEXTS = ["How do I rotate nginx logs?", "Café crème ☕", "x", "word " * 400, "", "  \n"]


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_model_dir()), device="cpu")


@pytest.mark.slow
def test_a_large_job_exports_once_and_later_processes_reuse_the_export(tmp_path, monkeypatch, reference):
    monkeypatch.setattr(embedder_module, "BULK_THRESHOLD_TEXTS", 8)
    cache = tmp_path / "model"
    first = Embedder(cache_dir=cache, variant="fp32")
    assert first.engine == "numpy" and not first.load_for_queries()  # loading never exports
    small = first.embed(TEXTS[:3])  # below the threshold: no export
    assert not cache.exists()

    many = [TEXTS[i % len(TEXTS)] + f" {i}" * (i % 5) for i in range(40)]
    vectors = first.embed(many)
    exports = list(cache.glob("*.onnx"))
    assert len(exports) == 1 and first.engine == "onnx"
    assert stat.S_IMODE(exports[0].stat().st_mode) == 0o600
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp file left behind

    expected = reference.encode(many, normalize_embeddings=True)
    assert vectors.shape == (40, 384)
    assert np.all((vectors * expected).sum(axis=1) >= 0.999)
    assert np.all((small * reference.encode(TEXTS[:3], normalize_embeddings=True)).sum(axis=1) >= 0.999)

    later = Embedder(cache_dir=cache, variant="fp32")  # a new process: a large job loads the export
    assert later.engine == "onnx"
    again = later.embed(many)
    assert np.all((again * expected).sum(axis=1) >= 0.999) and list(cache.glob("*.onnx")) == exports
    expected_queries = reference.encode(TEXTS, normalize_embeddings=True)
    fresh = Embedder(cache_dir=cache, variant="fp32")
    by_numpy = np.stack([fresh.embed_query(text) for text in TEXTS])  # a new process: numpy loads sooner
    assert fresh._onnx_model is None and np.all((by_numpy * expected_queries).sum(axis=1) >= 0.999)
    assert fresh.load_for_queries()  # a long-lived process loads ONNX Runtime for its queries
    by_onnx = np.stack([fresh.embed_query(text) for text in TEXTS])
    assert np.all((by_onnx * expected_queries).sum(axis=1) >= 0.999)


@pytest.mark.slow
def test_without_a_cache_a_large_job_still_runs_in_onnx(tmp_path, monkeypatch, reference):
    monkeypatch.setattr(embedder_module, "BULK_THRESHOLD_TEXTS", 4)
    embedder = Embedder(variant="fp32")
    vectors = embedder.embed(TEXTS)
    assert embedder.engine == "onnx"
    assert np.all((vectors * reference.encode(TEXTS, normalize_embeddings=True)).sum(axis=1) >= 0.999)


@pytest.mark.slow
def test_an_export_of_other_weights_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(embedder_module, "BULK_THRESHOLD_TEXTS", 2)
    cache = tmp_path / "model"
    cache.mkdir()
    stale = cache / "all-MiniLM-L6-v2-1-1.onnx"
    stale.write_bytes(b"not a graph")
    embedder = Embedder(cache_dir=cache, variant="fp32")
    assert embedder.engine == "numpy"  # the stale file is not for these weights, so it is not loaded
    embedder.embed(["one", "two"])
    assert not stale.exists() and len(list(cache.glob("*.onnx"))) == 1


@pytest.mark.slow
def test_a_damaged_export_is_set_aside_and_made_again(tmp_path, monkeypatch):
    from ollm_recall.embedding.onnx_minilm import exported_name

    monkeypatch.setattr(embedder_module, "BULK_THRESHOLD_TEXTS", 2)
    cache = tmp_path / "model"
    cache.mkdir()
    damaged = cache / exported_name(bundled_model_dir())
    damaged.write_bytes(b"\x08\x07 cut short")
    small = Embedder(cache_dir=cache, variant="fp32").embed(["one"])  # below the threshold: numpy, untouched
    assert small.shape == (1, 384) and damaged.exists()
    large = Embedder(cache_dir=cache, variant="fp32")
    assert large.embed(["one", "two"]).shape == (2, 384)
    assert large._onnx_model is not None  # the damaged file was removed and exported again
    assert damaged.exists() and damaged.stat().st_size > 1_000_000


@pytest.mark.slow
def test_when_the_export_fails_large_jobs_run_on_the_numpy_pass_and_say_why(tmp_path, monkeypatch):
    monkeypatch.setattr(embedder_module, "BULK_THRESHOLD_TEXTS", 2)
    (tmp_path / "model").write_text("a file where the model's folder should be")  # export cannot write
    embedder = Embedder(cache_dir=tmp_path / "model", variant="fp32")
    vectors = embedder.embed(["one", "two", "three"])
    assert vectors.shape == (3, 384) and embedder.engine == "numpy"
    assert embedder.export_problem and "exporting the embedding model" in embedder.export_problem
    assert (tmp_path / "model").is_file()
    embedder.export_problem = embedder.export_problem + " (seen)"
    embedder.embed(["four", "five"])  # not tried again in the same process
    assert embedder.export_problem.endswith("(seen)")


@pytest.mark.slow
def test_a_sync_says_when_it_stops_to_export_the_model(tmp_path, monkeypatch):
    from conftest import session_document, write_session_file

    from ollm_recall.index.indexer import Index

    monkeypatch.setenv("OLLM_MODEL_CACHE", str(tmp_path / "model-cache"))  # no graph made yet

    class Recorder:
        def __init__(self) -> None:
            self.statuses: list[str | None] = []

        def planned(self, words: int, meaning: int) -> None: ...

        def advanced(self, words: int, meaning: int) -> None: ...

        def status(self, text: str | None) -> None:
            self.statuses.append(text)

    write_session_file(tmp_path / "sessions", session_document("session-1"))
    first = Recorder()
    Index(tmp_path).sync(progress=first)
    assert len(first.statuses) == 2 and "preparing the embedding model" in str(first.statuses[0])
    assert first.statuses[1] is None
    write_session_file(tmp_path / "sessions", session_document("session-2"))
    later = Recorder()
    assert Index(tmp_path).sync(progress=later).added == 1
    assert later.statuses == []  # the export is there: nothing to wait for


@pytest.mark.slow
def test_the_int8_variant_stays_close_to_fp32_and_never_shares_an_index_with_it(tmp_path):
    from conftest import session_document, write_session_file

    from ollm_recall.errors import IndexCorrupt
    from ollm_recall.index.indexer import Index

    exact = Embedder(variant="fp32").embed(TEXTS[:4])
    quantised = Embedder(cache_dir=tmp_path / "model", variant="int8")
    assert quantised.will_export(1)  # every job of the int8 variant runs its graph, made once
    close = quantised.embed(TEXTS[:4])
    assert quantised.engine == "onnx-int8" and len(list((tmp_path / "model").glob("*int8.onnx"))) == 1
    Embedder(cache_dir=tmp_path / "model", variant="fp32").ensure_export()  # one cache, both variants
    assert len(list((tmp_path / "model").glob("*.onnx"))) == 2  # neither removes the other
    assert np.all((exact * close).sum(axis=1) >= 0.95)
    # dynamic quantisation scales activations per batch, so a text alone differs a little from the
    # same text among others
    assert float(quantised.embed_query(TEXTS[0]) @ close[0]) >= 0.98

    write_session_file(tmp_path / "sessions", session_document("session-1"))
    Index(tmp_path, variant="int8").sync()
    with pytest.raises(IndexCorrupt, match="run `ollm index --rebuild`"):
        Index(tmp_path, variant="fp32").load_manifest()
    assert Index(tmp_path, variant="int8").load_manifest().model_id.endswith("#int8")


@pytest.mark.slow
def test_onnx_runtime_leaves_no_telemetry_files(tmp_path: Path, model_cache: Path) -> None:
    home = tmp_path / "archive"
    shutil.copytree(REPO / "examples" / "sessions", home / "sessions")
    environment = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    environment.update(HOME=str(tmp_path), OLLM_MODEL_CACHE=str(model_cache), OLLM_BACKGROUND_INDEX="0")
    done = subprocess.run(
        [sys.executable, "-m", "ollm_recall", "--home", str(home), "index"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=SUBPROCESS_CEILING,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((home / "index" / "manifest.json").read_text())["model"]["id"].endswith("#int8")
    assert not (tmp_path / ".cache" / "Microsoft").exists()


def test_the_model_cache_removes_only_its_own_graphs(tmp_path: Path) -> None:
    from ollm_recall.embedding.onnx_minilm import export_onnx, exported_name

    model = bundled_model_dir()
    theirs = tmp_path / "another-model-int8.onnx"
    theirs.write_bytes(b"not ours")
    ours_before = tmp_path / "all-MiniLM-L6-v2-1-1-g0-int8.onnx"
    ours_before.write_bytes(b"an older graph of ours")
    export_onnx(model, tmp_path / exported_name(model, "int8"), int8=True)
    assert theirs.read_bytes() == b"not ours" and not ours_before.exists()
