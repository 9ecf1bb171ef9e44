"""Scale: incremental indexing on a larger corpus, the approximate (HNSW) index path, and its recall."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import store
from assistant.config import Settings
from assistant.retrieval import Filters, Retriever
from assistant.store import build_index, load_index, make_faiss_index
from tests.conftest import make_home

REPORTS = 80
PLACES = [a + b for a in ("Ash", "Brad", "Carl", "Dun", "Elm", "Farn", "Gran", "Hol", "Ivy", "Ket", "Lang", "Mor")
          for b in ("ford", "ley", "ton", "wick", "bury", "field", "worth", "stead", "ham", "mouth")]
TOPICS = ["financial planning", "housing delivery", "adult social care", "the workforce", "regeneration",
          "digital services", "climate action", "partnership working", "governance", "customer access"]


def synthetic_report(n: int) -> str:
    """A short, distinct peer challenge report: three sections, one chunk each."""
    place = PLACES[n % len(PLACES)]
    topic, other = TOPICS[n % len(TOPICS)], TOPICS[(n * 3 + 1) % len(TOPICS)]
    return (
        f"# Corporate peer challenge: {place} Borough Council\n\n"
        f"## 1. Executive summary\n\n{place} Borough Council was visited by peers in {2015 + n % 8}. "
        f"Its strongest area is {topic}, where report {n} records {n + 7} projects under way.\n\n"
        f"## 2. {other.capitalize()}\n\nPeers found that {other} in {place} needs a clearer plan "
        f"and a budget of £{n + 2}m over three years.\n\n"
        f"## 3. Key recommendations\n\n1. Publish a plan for {other}.\n2. Keep investing in {topic}.\n"
    )


NEW_REPORT = (
    "# Corporate peer challenge: Quillford Borough Council\n\n"
    "## 1. Executive summary\n\nQuillford Borough Council opened a new leisure centre with a lido in 2023.\n\n"
    "## 2. Key recommendations\n\n1. Review the lido opening hours.\n"
)


@pytest.fixture(scope="module")
def large_home(tmp_path_factory) -> Path:
    """A home with REPORTS synthetic reports, indexed once for this module (copy it before changing it)."""
    home = make_home(tmp_path_factory.mktemp("large"), {f"report-{n:03d}.md": synthetic_report(n)
                                                        for n in range(REPORTS)})
    build_index(Settings(home=home))
    return home


@pytest.fixture()
def home(large_home, tmp_path) -> Path:
    shutil.copytree(large_home, tmp_path / "home")
    return tmp_path / "home"


def vectors_by_chunk(index) -> dict[str, np.ndarray]:
    return {c.chunk_id: np.array(v) for c, v in zip(index.chunks, index.vectors)}


def test_adding_one_report_to_a_large_index_embeds_only_that_report(home):
    settings = Settings(home=home)
    before = load_index(settings)
    assert len(before.documents) == REPORTS and len(before.chunks) >= 3 * REPORTS
    (home / "corpus" / "quillford.md").write_text(NEW_REPORT, encoding="utf-8")

    report = build_index(settings)

    after = load_index(settings)
    new_chunks = [c for c in after.chunks if c.doc_id == "quillford"]
    assert report.added == ["quillford"] and len(report.unchanged) == REPORTS
    assert report.embedded == len(new_chunks) > 0
    assert len(after.chunks) == len(before.chunks) + len(new_chunks) == after.faiss_index.ntotal
    old, new = vectors_by_chunk(before), vectors_by_chunk(after)
    assert all(np.array_equal(old[key], new[key]) for key in old)
    top = Retriever(after, settings).search("Quillford leisure centre lido", k=1)
    assert top[0].chunk.doc_id == "quillford"


def test_updating_and_removing_reports_keep_positions_and_vectors_aligned(home):
    settings = Settings(home=home)
    corpus = home / "corpus"
    (corpus / "report-005.md").write_text(synthetic_report(5) + "\nA late note on the lido at Quillford.\n")
    (corpus / "report-010.md").unlink()
    report = build_index(settings)
    assert report.updated == ["report-005"] and report.removed == ["report-010"]

    index = load_index(settings)
    assert {c.doc_id for c in index.chunks} == {f"report-{n:03d}" for n in range(REPORTS) if n != 10}
    stored = index.store.vectors()
    assert np.allclose(stored, index.vectors, atol=1e-6), "FAISS and the vectors file list the same chunks in order"
    for position in (0, len(index.chunks) // 2, len(index.chunks) - 1):
        hit = index.search_dense(np.array(index.vectors[position]), 1)[0]
        assert hit[0] == position and hit[1] == pytest.approx(1.0, abs=1e-4)


def test_the_index_becomes_hnsw_past_the_threshold_and_stays_correct(home, monkeypatch):
    settings = Settings(home=home)
    exact = load_index(settings)
    monkeypatch.setattr(store, "APPROXIMATE_FROM", len(exact.chunks) + 1)
    (home / "corpus" / "quillford.md").write_text(NEW_REPORT, encoding="utf-8")

    report = build_index(settings)  # grows past the threshold: only the new report is embedded

    assert report.added == ["quillford"] and report.embedded < 5
    manifest = json.loads((home / "index" / "manifest.json").read_text())
    assert manifest["index_type"] == "IndexHNSWFlat"
    approximate = load_index(settings)
    assert approximate.store.approximate
    retriever = Retriever(approximate, settings)
    for query in ("lido opening hours", "budget for housing delivery", "adult social care projects"):
        vector = retriever.embedder.encode_query(query)
        exact_top = np.argsort(-(np.asarray(approximate.vectors) @ vector))[:5]
        assert [p for p, _ in approximate.search_dense(vector, 5)] == list(exact_top)
    assert retriever.search("Quillford leisure centre lido", k=1)[0].chunk.doc_id == "quillford"

    only = Filters(doc_ids=["report-007", "report-042"])
    found = retriever.search("recommendations for the plan", k=4, filters=only, mode="dense")
    assert found and {p.chunk.doc_id for p in found} <= {"report-007", "report-042"}

    (home / "corpus" / "report-003.md").unlink()  # an HNSW graph cannot drop nodes: it is rebuilt
    build_index(settings)
    rebuilt = load_index(settings)
    assert "report-003" not in {c.doc_id for c in rebuilt.chunks}
    assert np.allclose(rebuilt.store.vectors(), rebuilt.vectors, atol=1e-6)


def embedding_like_vectors(count: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    """Unit vectors whose variance falls off as a power law across directions, as sentence embeddings'
    does (slope about -1.2 for MiniLM on the shipped corpus); uniformly random vectors would be a
    harder case than real embeddings (see bench/RESULTS.md)."""
    basis = np.linalg.qr(np.random.default_rng(99).standard_normal((dim, dim)))[0]
    scale = np.arange(1, dim + 1) ** -0.5
    vectors = (np.random.default_rng(seed).standard_normal((count, dim)) * scale) @ basis.T
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("float32")


def test_approximate_search_recall_against_exact():
    data = embedding_like_vectors(12_000)
    queries = embedding_like_vectors(100, seed=1)
    hnsw = store.FaissStore(make_faiss_index(data, approximate_from=1))
    assert hnsw.approximate

    def recall(allowed: np.ndarray | None) -> float:
        pool = data if allowed is None else data[allowed]
        ids = np.arange(len(data)) if allowed is None else allowed
        hits = 0
        for q in queries:
            truth = set(ids[np.argsort(-(pool @ q))[:10]])
            hits += len(truth & {i for i, _ in hnsw.search(q, 10, allowed)})
        return hits / (10 * len(queries))

    assert recall(None) >= 0.95
    rng = np.random.default_rng(2)
    few = np.sort(rng.choice(len(data), 300, replace=False))  # searched exactly
    assert recall(few) == 1.0
    half = np.sort(rng.choice(len(data), len(data) // 2, replace=False))
    with pytest.MonkeyPatch.context() as patch:  # force the graph walk with a filter
        patch.setattr(store, "EXACT_FILTER_MAX", 0)
        assert recall(half) >= 0.9
