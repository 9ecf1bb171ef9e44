"""Measure ingest and embedding throughput, index build time, retrieval latency, approximate-search
recall and peak memory, at the shipped corpus and at synthetic scales; write bench/RESULTS.md.

    python bench/run.py                                  # everything (about an hour on 2 cores)
    python bench/run.py --parts embedding shipped        # some parts
    python bench/run.py --scales 10000 100000            # other synthetic scales

Parts: embedding (ingest+embed chunks/s against plain sentence-transformers), shipped (the shipped
corpus end to end), scale (synthetic corpora of --scales chunks; each in its own process, so its
peak memory is its own). Results also go to bench/results.json; RESULTS.md keeps everything below
its "Notes" heading when rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.config import Settings  # noqa: E402

BENCH = ROOT / "bench"
CACHE = BENCH / ".cache"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
DIM = 384
FULL_PIPELINE_MAX = 200_000  # above this, only FAISS and BM25 are built (see RESULTS.md for why)
CHUNKS_PER_DOCUMENT = 50  # the shipped peer challenge reports have 45 and 54 chunks
TARGETS = {"p95_100k_ms": 50, "p95_1m_ms": 150, "first_passages_s": 0.5, "embedding_gap": 0.20}


# --- measuring ---------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def latency_ms(fn: Callable, items: list, warmup: int = 3) -> dict:
    """p50/p95/mean/max of fn(item) over items, in milliseconds, after a few warm-up calls."""
    for item in items[:warmup]:
        fn(item)
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50": round(percentile(times, 50), 2), "p95": round(percentile(times, 95), 2),
            "mean": round(statistics.fmean(times), 2), "max": round(times[-1], 2), "n": len(times)}


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]


# --- embedding throughput ---------------------------------------------------------------------


def shipped_chunk_texts(settings: Settings) -> list[str]:
    from assistant.chunking import chunk_document
    from assistant.corpus import load_corpus

    docs = load_corpus(settings.corpus_dir)
    return [c.embedding_text() for d in docs for c in chunk_document(d, settings.chunk_tokens, settings.chunk_overlap)]


def bench_embedding(rounds: int = 3, copies: int = 4) -> dict:
    """chunks/s of the whole ingest (read, clean, chunk, embed, write) and of the embedding step,
    against SentenceTransformer.encode on the same texts with the same batch size."""
    from sentence_transformers import SentenceTransformer

    from assistant.embedding import get_embedder
    from assistant.store import build_index

    settings = Settings.from_env(home=ROOT)
    embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
    texts = shipped_chunk_texts(settings) * copies
    plain = SentenceTransformer(str(embedder.model_dir), device="cpu")
    batch = settings.embedding_batch_size

    def ours() -> None:
        embedder.encode(texts)

    def theirs() -> None:
        plain.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)

    ours(), theirs()  # warm up both
    runs: dict[str, list[float]] = {"assistant": [], "sentence_transformers": [], "ingest": [], "ingest_embed": []}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):  # interleaved, so a burst of load elsewhere hits both alike
            loads.append(load_average())
            runs["assistant"].append(len(texts) / timed(ours)[1])
            runs["sentence_transformers"].append(len(texts) / timed(theirs)[1])
            home = Path(tmp) / f"home{len(loads)}"
            (home / "corpus").mkdir(parents=True)
            for n in range(copies):  # no sidecars: each copy gets its own inferred doc_id
                for source in sorted((ROOT / "corpus").glob("*.txt")):
                    shutil.copy(source, home / "corpus" / f"{source.stem}-copy{n}.txt")
            stages: dict[str, list[float]] = {}

            def progress(stage: str, done: int, total: int) -> None:
                now = time.perf_counter()
                stages.setdefault(stage, [now, now])[1] = now

            report, _ = timed(build_index, Settings(home=home), progress)
            runs["ingest"].append(report.embedded / report.seconds)
            embed_seconds = stages["embedding"][1] - stages["reading"][1]
            runs["ingest_embed"].append(report.embedded / embed_seconds)
    medians = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    return {"texts": len(texts), "batch_size": batch, "rounds": rounds, "chunks_per_s": medians,
            "all_runs": {k: [round(x, 1) for x in v] for k, v in runs.items()},
            "gap": round(1 - medians["assistant"] / medians["sentence_transformers"], 3),
            "torch_threads": torch_threads(), "load": loads}


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def with_one_thread(fn: Callable) -> object:
    """fn() with torch and FAISS limited to one thread each: on a busy CPU, OpenMP threads that
    spin-wait for each other make a single query many times slower (see RESULTS.md)."""
    import faiss
    import torch

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])


# --- the shipped corpus ------------------------------------------------------------------------


def bench_shipped() -> dict:
    """Build, load and query the shipped corpus; time to first passages through Assistant.stream."""
    from assistant.answer import Assistant
    from assistant.embedding import get_embedder
    from assistant.retrieval import Retriever
    from assistant.store import build_index, load_index

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shutil.copytree(ROOT / "corpus", home / "corpus")
        settings = Settings.from_env(home=home)
        get_embedder(settings.embedding_model).model  # model load is not part of the build time
        report, build_s = timed(build_index, settings)
        index, load_s = timed(load_index, settings)
        retriever, retriever_s = timed(Retriever, index, settings)
        qs = questions()
        search = latency_ms(lambda q: retriever.search(q), qs)
        search_torch1 = with_one_thread(lambda: latency_ms(lambda q: retriever.search(q), qs))
        assistant = Assistant(settings, retriever)

        def first_passages(q: str) -> None:
            for event in assistant.stream(q):
                if event.kind == "passages":
                    return

        passages = latency_ms(first_passages, qs)
        return {"chunks": report.chunks, "documents": len(index.documents), "build_s": round(build_s, 2),
                "load_s": round(load_s, 3), "retriever_init_s": round(retriever_s, 3), "search_ms": search,
                "search_torch1_ms": search_torch1,
                "first_passages_ms": passages, "peak_rss_mb": round(peak_rss_mb()), "load": load_average()}


# --- synthetic data ----------------------------------------------------------------------------


def real_embeddings() -> np.ndarray:
    """MiniLM embeddings of the shipped corpus's sentences and passages (cached in bench/.cache)."""
    path = CACHE / "real_embeddings.npy"
    if path.exists():
        return np.load(path)
    from assistant.embedding import get_embedder

    texts = corpus_sentences()
    texts += [" ".join(texts[i:i + 3]) for i in range(0, len(texts), 2)]
    vectors = get_embedder(Settings().embedding_model).encode(texts)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def corpus_sentences() -> list[str]:
    from assistant.corpus import load_corpus

    sentences = []
    for doc in load_corpus(ROOT / "corpus"):
        for part in re.split(r"(?<=[.!?])\s+|\n+", doc.text):
            part = part.strip().lstrip("#-* ").strip()
            if len(part.split()) >= 6:
                sentences.append(part)
    return sentences


class VectorModel:
    """Unit vectors drawn from a Gaussian with the mean and covariance of real MiniLM embeddings
    ("fitted"), or uniformly from the sphere ("uniform": the hardest case for approximate search)."""

    def __init__(self, kind: str, real: np.ndarray | None = None):
        self.kind = kind
        if kind == "fitted":
            self.mean = real.mean(axis=0)
            values, basis = np.linalg.eigh(np.cov(real.T) + 1e-5 * np.eye(real.shape[1]))
            self.factor = (basis * np.sqrt(np.clip(values, 0, None))).T.astype("float32")

    def sample(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((count, DIM), dtype="float32")
        for start in range(0, count, 100_000):
            z = rng.standard_normal((min(100_000, count - start), DIM), dtype="float32")
            block = z if self.kind == "uniform" else z @ self.factor + self.mean
            out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def council_names(count: int) -> list[str]:
    first = ["Ash", "Brad", "Carl", "Dun", "Elm", "Farn", "Gran", "Hol", "Ivy", "Ket", "Lang", "Mor", "Nor",
             "Oak", "Pen", "Quen", "Ros", "Sal", "Tam", "Wil"]
    second = ["ford", "ley", "ton", "wick", "bury", "field", "worth", "stead", "ham", "mouth"]
    kinds = ["Borough Council", "District Council", "City Council", "County Council"]
    names = [f"{a}{b} {k}" for k in kinds for a in first for b in second]
    return names[:count]


def synthetic_corpus(n_chunks: int, corpus_dir: Path | None, seed: int = 0):
    """Chunks and documents like the shipped reports' (real sentences, shuffled), and with
    `corpus_dir`, the report files themselves so an incremental build can run against them."""
    from assistant.chunking import Chunk
    from assistant.corpus import document_fingerprint
    from assistant.store import DocumentRecord

    rng = np.random.default_rng(seed)
    sentences = corpus_sentences()
    councils = council_names(800)
    chunks, documents = [], {}
    for d in range((n_chunks + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT):
        council = councils[d % len(councils)]
        date = f"{2012 + d % 12}-{1 + d % 12:02d}"
        doc_id, title = f"synthetic-{d:06d}", f"{council} corporate peer challenge feedback report"
        parts, spans = [f"# {title}\n\n"], []
        offset = len(parts[0])
        count = min(CHUNKS_PER_DOCUMENT, n_chunks - d * CHUNKS_PER_DOCUMENT)
        for i in range(count):
            section = "Key recommendations" if i == 0 else f"{1 + i // 5}.{1 + i % 5} Theme {int(rng.integers(1, 40))}"
            heading = f"## {section}\n\n"
            if i == 0:
                body = "\n".join(f"{n}. {sentences[int(rng.integers(len(sentences)))]}" for n in range(1, 6))
            else:
                body = " ".join(sentences[int(j)] for j in rng.integers(0, len(sentences), 8))
            start = offset + len(heading)
            parts.append(heading + body + "\n\n")
            spans.append((section, start, start + len(body)))
            offset += len(parts[-1])
        text = "".join(parts)
        source = f"{doc_id}.md"
        fingerprint = ""
        if corpus_dir is not None:
            (corpus_dir / source).write_text(text, encoding="utf-8")
            (corpus_dir / f"{doc_id}.meta.json").write_text(json.dumps(
                {"doc_id": doc_id, "title": title, "council": council, "kind": "peer challenge report", "date": date}))
            fingerprint = document_fingerprint(corpus_dir / source)
        line_map = [(o, 1 + o // 80) for o in range(0, len(text), 80)]  # as if hard-wrapped at 80 columns
        documents[doc_id] = DocumentRecord(doc_id, title, council, "peer challenge report", date, source, text,
                                           line_map, fingerprint)
        for i, (section, start, end) in enumerate(spans):
            chunks.append(Chunk(f"{doc_id}#{i}", doc_id, title, council, "peer challenge report", date, source,
                                section, text[start:end], start, end, 1 + start // 80, 1 + end // 80,
                                (end - start) // 4))
    return chunks, documents


# --- approximate search ------------------------------------------------------------------------


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, k)[1]


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def bench_ann(vectors: np.ndarray, queries: np.ndarray, configs: list[dict]) -> list[dict]:
    """Build time, single-query latency and recall@10 and @40 (the dense candidates Retriever.search
    asks for) against exact search, per index config."""
    import faiss

    truth = exact_top(vectors, queries, 40)
    rows = []
    for config in configs:
        row = dict(config)
        if config["type"] == "flat":
            index, build_s = timed(lambda: exact_index(vectors))
            sweeps = [("-", None)]
        elif config["type"] == "hnsw":
            index, build_s = row.pop("prebuilt", (None, 0.0))
            if index is None:
                index = faiss.IndexHNSWFlat(DIM, config["M"], faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = config["efConstruction"]
                _, build_s = timed(index.add, vectors)
            sweeps = [("efSearch", ef) for ef in config["efSearch"]]
        else:  # ivf
            quantizer = faiss.IndexFlatIP(DIM)
            index = faiss.IndexIVFFlat(quantizer, DIM, config["nlist"], faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), 40 * config["nlist"]),
                                                             replace=False)]
            start = time.perf_counter()
            index.train(sample)
            index.add(vectors)
            build_s = time.perf_counter() - start
            sweeps = [("nprobe", p) for p in config["nprobe"]]
        row["build_s"] = round(build_s, 1)
        row["memory_mb"] = round(faiss.serialize_index(index).nbytes / 2**20) if len(vectors) <= 200_000 else None
        row["results"] = []
        for name, value in sweeps:
            if name == "efSearch":
                index.hnsw.efSearch = value
            elif name == "nprobe":
                index.nprobe = value
            found = index.search(queries, 40)[1]
            lat = with_one_thread(lambda: latency_ms(lambda q: index.search(q.reshape(1, -1), 40), list(queries)))
            row["results"].append({name: value, "recall@10": recall_at(found[:, :10], truth[:, :10]),
                                   "recall@40": recall_at(found, truth), "p50_ms": lat["p50"], "p95_ms": lat["p95"]})
        rows.append(row)
        del index
    return rows


def exact_index(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def bench_filtered_recall(vectors: np.ndarray, queries: np.ndarray, chunks_council: np.ndarray,
                          index: object) -> list[dict]:
    """Recall and latency of FaissStore.search with filters, on an HNSW index with the shipped settings."""
    from assistant import store

    hnsw = store.FaissStore(index)
    index.hnsw.efSearch = store.HNSW_EF_SEARCH
    rows = []
    rng = np.random.default_rng(5)
    councils = np.unique(chunks_council)
    for label, allowed in [
        ("one council", np.flatnonzero(chunks_council == councils[0])),
        ("5% of chunks", np.sort(rng.choice(len(vectors), len(vectors) // 20, replace=False))),
        ("50% of chunks", np.sort(rng.choice(len(vectors), len(vectors) // 2, replace=False))),
    ]:
        truth = [allowed[np.argsort(-(vectors[allowed] @ q))[:10]] for q in queries[:50]]
        found = [[i for i, _ in hnsw.search(q, 10, allowed)] for q in queries[:50]]
        lat = with_one_thread(lambda: latency_ms(lambda q: hnsw.search(q, 10, allowed), list(queries[:50])))
        path = "exact over allowed" if len(allowed) <= store.EXACT_FILTER_MAX else "HNSW walk + IDSelector"
        rows.append({"filter": label, "allowed": int(len(allowed)), "path": path,
                     "recall@10": recall_at(found, truth), "p50_ms": lat["p50"], "p95_ms": lat["p95"]})
    return rows


# --- one synthetic scale (runs in a child process) ---------------------------------------------


def bench_scale(n: int, uniform_max: int) -> dict:
    from assistant import store

    result: dict = {"chunks": n, "load_start": load_average()}
    real = real_embeddings()
    models = {"fitted": VectorModel("fitted", real), "uniform": VectorModel("uniform")}
    vectors, result["vectors_s"] = timed(models["fitted"].sample, n, 1)
    queries = models["fitted"].sample(200, 2)
    configs = ann_configs(n)
    if n <= FULL_PIPELINE_MAX:
        result.update(full_pipeline(n, vectors))
        hnsw, result["hnsw_build_s"] = timed(store.make_faiss_index, vectors, 0)
    else:
        out, hnsw = faiss_and_bm25(n, vectors)
        result.update(out)
    configs[1]["prebuilt"] = (hnsw, result["hnsw_build_s"])  # built once: at 1M it takes many minutes
    result["rss_after_pipeline_mb"] = round(current_rss_mb())

    result["ann"] = {"fitted": bench_ann(vectors, queries, configs)}
    result["filtered"] = bench_filtered_recall(vectors, queries, np.arange(n) // CHUNKS_PER_DOCUMENT % 800, hnsw)
    del vectors, configs, hnsw
    if n <= uniform_max:
        uniform = models["uniform"].sample(n, 3)
        chosen = [c for c in ann_configs(n) if c["type"] == "hnsw" and c["M"] == store.HNSW_M][:1]
        result["ann"]["uniform"] = bench_ann(uniform, models["uniform"].sample(200, 4), chosen)
    result["approximate_from"] = store.APPROXIMATE_FROM
    result["peak_rss_mb"] = round(peak_rss_mb())
    result["load_end"] = load_average()
    return result


def ann_configs(n: int) -> list[dict]:
    from assistant import store

    shipped = {"type": "hnsw", "M": store.HNSW_M, "efConstruction": store.HNSW_EF_CONSTRUCTION,
               "efSearch": [64, 128, 256, 512]}
    nlist = 1024 if n <= 200_000 else 4096
    configs = [{"type": "flat"}, shipped]
    if n <= 200_000:
        configs.append({"type": "hnsw", "M": 16, "efConstruction": 40, "efSearch": [64, 128, 256, 512]})
    configs.append({"type": "ivf", "nlist": nlist, "nprobe": [8, 16, 32, 64]})
    return configs


def full_pipeline(n: int, vectors: np.ndarray) -> dict:
    """write_index, load_index, Retriever and search as the app runs them, plus adding one report."""
    from assistant.embedding import get_embedder
    from assistant.retrieval import Filters, Retriever
    from assistant.store import load_index, settings_signature, write_index

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "corpus").mkdir()
        settings = Settings.from_env(home=home)
        embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
        (chunks, documents), out["corpus_s"] = timed(synthetic_corpus, n, home / "corpus")
        out["documents"] = len(documents)
        out["rss_corpus_in_memory_mb"] = round(current_rss_mb())
        signature = settings_signature(settings, embedder.fingerprint)
        settings.index_dir.mkdir()
        _, out["write_index_s"] = timed(write_index, settings.index_dir, signature, DIM, chunks, vectors, documents)
        out["index_on_disk_mb"] = round(sum(p.stat().st_size for p in settings.index_dir.iterdir()) / 2**20)
        del chunks, documents
        out["rss_before_load_mb"] = round(current_rss_mb())
        index, out["load_index_s"] = timed(load_index, settings)
        out["rss_after_load_mb"] = round(current_rss_mb())
        retriever, out["retriever_init_s"] = timed(Retriever, index, settings)
        out["rss_after_retriever_mb"] = round(current_rss_mb())
        qs = questions()
        embedder.model  # loaded before timing
        out["search_ms"] = latency_ms(lambda q: retriever.search(q), qs)
        out["search_dense_ms"] = latency_ms(lambda q: retriever.search(q, mode="dense"), qs)
        out["search_lexical_ms"] = latency_ms(lambda q: retriever.search(q, mode="lexical"), qs)
        out["query_embedding_ms"] = latency_ms(embedder.encode_query, qs)
        one_council = Filters(councils=[index.chunks[0].council])
        out["search_filtered_ms"] = latency_ms(lambda q: retriever.search(q, filters=one_council), qs)
        out["search_torch1_ms"] = with_one_thread(lambda: latency_ms(lambda q: retriever.search(q), qs))
        out["query_embedding_torch1_ms"] = with_one_thread(lambda: latency_ms(embedder.encode_query, qs))
        out["faiss_type"] = type(index.faiss_index).__name__

        from assistant.answer import Assistant

        assistant = Assistant(settings, retriever)

        def first_passages(q: str) -> None:
            for event in assistant.stream(q):
                if event.kind == "passages":
                    return

        out["first_passages_ms"] = latency_ms(first_passages, qs[:60])
        del retriever, index, assistant
        shutil.copy(ROOT / "corpus" / "derby-city-2017-press-release.txt", home / "corpus" / "new-report.txt")
        out.update(add_one_report(home))
    return out


def add_one_report(home: Path) -> dict:
    """`build_index` after one new report, in a process of its own so its peak memory is its own."""
    script = ("import json, sys; from assistant.config import Settings; from assistant.store import build_index; "
              "r = build_index(Settings.from_env(home=sys.argv[1])); "
              "print(json.dumps([r.seconds, r.embedded, len(r.unchanged)]))")
    done = subprocess.run([sys.executable, "-c", script, str(home)], check=True, capture_output=True, text=True,
                          cwd=ROOT)
    seconds, embedded, unchanged = json.loads(done.stdout.strip().splitlines()[-1])
    return {"add_one_report_s": seconds, "add_one_report_embedded": embedded, "add_one_report_unchanged": unchanged,
            "add_one_report_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}


def faiss_and_bm25(n: int, vectors: np.ndarray) -> tuple[dict, object]:
    """At 1M chunks: the FAISS index (flat and HNSW) and a BM25 index built from token ids, then
    Retriever.search over them. The full pipeline (chunk records, documents, the Retriever's own
    tokenising) is not built at this scale: see RESULTS.md."""
    import threading

    import bm25s

    from assistant import store
    from assistant.embedding import get_embedder
    from assistant.retrieval import Retriever, tokenize

    out: dict = {}
    settings = Settings.from_env()
    sentences = corpus_sentences()
    vocab: dict[str, int] = {"": 0}
    sentence_ids = [np.array([vocab.setdefault(t, len(vocab)) for t in tokenize(s)], dtype="int32") for s in sentences]
    councils = council_names(800)
    council_ids = [np.array([vocab.setdefault(t, len(vocab)) for t in tokenize(c)], dtype="int32") for c in councils]
    rng = np.random.default_rng(0)

    def token_ids(i: int) -> np.ndarray:
        picks = rng.integers(0, len(sentence_ids), 8)
        return np.concatenate([council_ids[i // CHUNKS_PER_DOCUMENT % 800], *(sentence_ids[j] for j in picks)])

    corpus, out["bm25_tokens_s"] = timed(lambda: [token_ids(i) for i in range(n)])
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    _, out["bm25_index_s"] = timed(bm25.index, (corpus, vocab), show_progress=False)
    del corpus
    out["rss_after_bm25_mb"] = round(current_rss_mb())

    chunks, _ = synthetic_corpus(CHUNKS_PER_DOCUMENT * 20, None)
    chunks = [chunks[i % len(chunks)] for i in range(n)]  # a million references to 1,000 records
    # The Retriever's constructor would tokenise 1M chunk texts itself; here it gets the BM25 index above.
    retriever = Retriever.__new__(Retriever)
    retriever.settings = settings
    retriever.embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
    retriever.bm25, retriever.councils, retriever._lock = bm25, [], threading.Lock()
    retriever.embedder.model
    qs = questions()
    out["query_embedding_ms"] = latency_ms(retriever.embedder.encode_query, qs)
    retriever.index = store.Index({}, chunks, vectors, store.FaissStore(exact_index(vectors)), {}, [])
    out["search_lexical_ms"] = latency_ms(lambda q: retriever.search(q, mode="lexical"), qs)
    out["search_exact_dense_ms"] = latency_ms(lambda q: retriever.search(q), qs)
    retriever.index = None

    hnsw, out["hnsw_build_s"] = timed(lambda: store.make_faiss_index(vectors, 0))
    out["rss_after_hnsw_mb"] = round(current_rss_mb())
    retriever.index = store.Index({}, chunks, vectors, store.FaissStore(hnsw), {}, [])
    out["search_ms"] = latency_ms(lambda q: retriever.search(q), qs)
    out["search_dense_ms"] = latency_ms(lambda q: retriever.search(q, mode="dense"), qs)
    out["search_torch1_ms"] = with_one_thread(lambda: latency_ms(lambda q: retriever.search(q), qs))
    out["query_embedding_torch1_ms"] = with_one_thread(
        lambda: latency_ms(retriever.embedder.encode_query, qs))
    out["faiss_type"] = type(hnsw).__name__
    return out, hnsw


# --- report ------------------------------------------------------------------------------------


def run_child(n: int, uniform_max: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    subprocess.run([sys.executable, __file__, "--child", str(n), "--child-out", str(out),
                    "--uniform-max", str(uniform_max)], check=True)
    result = json.loads(out.read_text())
    out.unlink()
    return result


def environment() -> dict:
    import faiss
    import torch

    return {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "python": platform.python_version(),
            "faiss": faiss.__version__, "torch": torch.__version__, "faiss_threads": faiss.omp_get_max_threads(),
            "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load_at_start": load_average()}


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = ["# Benchmark results", "",
             f"Written by `python bench/run.py` on {env['date']}: {env['cpus']} CPUs, {env['memory_gb']} GB, "
             f"Python {env['python']}, FAISS {env['faiss']} ({env['faiss_threads']} threads), torch {env['torch']} "
             f"({env['torch_threads']} threads). Load average (1, 5, 15 min) at start: {env['load_at_start']}. "
             "The machine was shared with other work; each section gives the load average it ran under.", ""]
    if "embedding" in results:
        e = results["embedding"]
        cps = e["chunks_per_s"]
        lines += ["## Ingest and embedding throughput", "",
                  f"{e['texts']} chunk texts of the shipped corpus, batch size {e['batch_size']}, median of "
                  f"{e['rounds']} interleaved rounds; load {', '.join(e['load'])}.", "",
                  "| what | chunks/s |", "|---|---|",
                  f"| plain `SentenceTransformer.encode(texts, batch_size={e['batch_size']})` | {cps['sentence_transformers']} |",
                  f"| `Embedder.encode` (what indexing uses) | {cps['assistant']} |",
                  f"| embedding stage of `build_index` | {cps['ingest_embed']} |",
                  f"| whole `build_index` (read, clean, chunk, embed, write) | {cps['ingest']} |", "",
                  f"Gap of `Embedder.encode` to plain sentence-transformers: {e['gap'] * 100:.1f}% "
                  f"(target: within {TARGETS['embedding_gap'] * 100:.0f}%). All runs: `{json.dumps(e['all_runs'])}`.", ""]
    if "shipped" in results:
        s = results["shipped"]
        lines += ["## Shipped corpus", "",
                  f"{s['chunks']} chunks in {s['documents']} documents; load {s['load']}.", "",
                  "| measure | value |", "|---|---|",
                  f"| build (embedding model already loaded) | {s['build_s']} s |",
                  f"| load_index | {s['load_s'] * 1000:.0f} ms |",
                  f"| Retriever init (BM25, councils) | {s['retriever_init_s'] * 1000:.0f} ms |",
                  f"| Retriever.search, hybrid, p50 / p95 | {s['search_ms']['p50']} / {s['search_ms']['p95']} ms |",
                  f"| the same with torch and FAISS limited to 1 thread | {s['search_torch1_ms']['p50']} / "
                  f"{s['search_torch1_ms']['p95']} ms |",
                  f"| first passages (Assistant.stream: scope + search), p50 / p95 | "
                  f"{s['first_passages_ms']['p50']} / {s['first_passages_ms']['p95']} ms |",
                  f"| peak memory (process) | {s['peak_rss_mb']} MB |", "",
                  "Full-answer timings (first token, total) with the default model are in "
                  "[LLM_TIMINGS.md](LLM_TIMINGS.md).", ""]
    if "scales" in results:
        lines += scale_markdown(results["scales"])
    if "load_test" in results:
        lines += load_test_markdown(results["load_test"])
    return "\n".join(lines)


def scale_markdown(scales: list[dict]) -> list[str]:
    lines = ["## Synthetic scales", "",
             "Chunks are real sentences of the shipped reports, shuffled into 50-chunk reports of 800 councils; "
             "vectors are drawn from a Gaussian fitted to real MiniLM embeddings of the corpus (\"fitted\") and, "
             "for the worst case, uniformly from the sphere (\"uniform\"). Queries are the 149 gold-set questions, "
             "embedded by the real model.", "",
             "### Retrieval latency and memory", "",
             "| chunks | FAISS index | Retriever.search hybrid p50 / p95 | same, 1 thread (torch, FAISS) | dense only p95 "
             "| lexical only p95 | query embedding p95 (1 thread) | one-council filter p95 | first passages p95 "
             "| peak memory | load (start → end) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in scales:
        filtered = s.get("search_filtered_ms", {}).get("p95", "–")
        first = s.get("first_passages_ms", {}).get("p95", "–")
        lines.append(f"| {s['chunks']:,} | {s['faiss_type']} | {s['search_ms']['p50']} / {s['search_ms']['p95']} ms "
                     f"| {s['search_torch1_ms']['p50']} / {s['search_torch1_ms']['p95']} ms "
                     f"| {s['search_dense_ms']['p95']} ms | {s['search_lexical_ms']['p95']} ms "
                     f"| {s['query_embedding_ms']['p95']} ({s['query_embedding_torch1_ms']['p95']}) ms "
                     f"| {filtered} ms | {first} ms | {s['peak_rss_mb']:,} MB "
                     f"| {s['load_start']} → {s['load_end']} |")
    lines += ["", "### Index build", "",
              "| chunks | documents | write_index | on disk | load_index | Retriever init | memory: records in RAM → "
              "after load → with Retriever | add one report to this index |", "|---|---|---|---|---|---|---|---|"]
    for s in scales:
        if "write_index_s" in s:
            lines.append(
                f"| {s['chunks']:,} | {s['documents']:,} | {s['write_index_s']:.1f} s | {s['index_on_disk_mb']} MB "
                f"| {s['load_index_s']:.1f} s | {s['retriever_init_s']:.1f} s | {s['rss_corpus_in_memory_mb']} → "
                f"{s['rss_after_load_mb']} → {s['rss_after_retriever_mb']} MB | {s['add_one_report_s']:.1f} s, "
                f"peak {s['add_one_report_peak_mb']} MB ({s['add_one_report_embedded']} chunks embedded, "
                f"{s['add_one_report_unchanged']} reports kept) |")
        else:
            lines.append(f"| {s['chunks']:,} | – | HNSW build {s['hnsw_build_s']:.0f} s; BM25 from token ids "
                         f"{s['bm25_index_s']:.0f} s | – | – | – | BM25 {s['rss_after_bm25_mb']} MB → with HNSW "
                         f"{s['rss_after_hnsw_mb']} MB | – |")
    lines += ["", "### Approximate vs exact search", "",
              "Recall against exact inner-product search over 200 queries: of the true 10 (and 40, the dense "
              "candidates `Retriever.search` asks for) nearest chunks, the share found. Latencies are single "
              "queries for 40 neighbours with FAISS on one thread.", ""]
    for s in scales:
        for kind, rows in s["ann"].items():
            lines += [f"**{s['chunks']:,} chunks, {kind} vectors**", "",
                      "| index | build | setting | recall@10 | recall@40 | p50 | p95 |", "|---|---|---|---|---|---|---|"]
            for row in rows:
                name = {"flat": "IndexFlatIP (exact)",
                        "hnsw": f"HNSW M={row.get('M')}, efConstruction={row.get('efConstruction')}",
                        "ivf": f"IVFFlat nlist={row.get('nlist')}"}[row["type"]]
                for r in row["results"]:
                    setting = next((f"{k}={v}" for k, v in r.items() if k in ("efSearch", "nprobe")), "–")
                    lines.append(f"| {name} | {row['build_s']} s | {setting} | {r['recall@10']} | {r['recall@40']} "
                                 f"| {r['p50_ms']} ms | {r['p95_ms']} ms |")
            lines.append("")
        if "filtered" in s:
            lines += [f"**{s['chunks']:,} chunks: filtered search on the shipped HNSW settings (fitted vectors)**", "",
                      "| filter | chunks allowed | path | recall@10 | p50 | p95 |", "|---|---|---|---|---|---|"]
            lines += [f"| {r['filter']} | {r['allowed']:,} | {r['path']} | {r['recall@10']} | {r['p50_ms']} ms "
                      f"| {r['p95_ms']} ms |" for r in s["filtered"]]
            lines.append("")
        if "search_exact_dense_ms" in s:
            lines += [f"At {s['chunks']:,} chunks with the exact index instead of HNSW, Retriever.search hybrid "
                      f"p50 / p95 is {s['search_exact_dense_ms']['p50']} / {s['search_exact_dense_ms']['p95']} ms.", ""]
    return lines


def previous_results() -> dict:
    path = BENCH / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_test_markdown(t: dict) -> list[str]:
    lines = ["## Load test", "",
             f"`python bench/load_test.py`: {t['users']} users, each in its own gradio_client session, ask one question "
             f"at the same moment through the running app's API (model {t['model']}, answers up to {t['answer_tokens']} "
             f"tokens). Load average before: {t['load_before']}; after: {t['load_after']}.", "",
             "| measure | value |", "|---|---|",
             f"| answered | {t['answered']} of {t['users']} |",
             f"| seen waiting in Gradio's queue | {t['queued_seen']} (deepest position {t['max_queue_rank']}) |",
             *([f"| seen waiting for the model, passages shown | {t['waiting_for_model_seen']} (most answers ahead "
                f"{t['max_answers_ahead']}) |",
                f"| passages shown p50 / p95 / max | {t['passages_shown_s']['p50']} / {t['passages_shown_s']['p95']} "
                f"/ {t['passages_shown_s']['max']} s |"] if "passages_shown_s" in t else []),
             f"| lost, failed or crossed between users | {len(t['problems'])} |",
             f"| wall time | {t['wall_s']} s |",
             f"| throughput | {t['answers_per_min']} answers/min |",
             f"| latency p50 / p95 / max | {t['latency_s']['p50']} / {t['latency_s']['p95']} / {t['latency_s']['max']} s |",
             f"| first streamed update p50 / p95 / max | {t['first_update_s']['p50']} / {t['first_update_s']['p95']} "
             f"/ {t['first_update_s']['max']} s |", ""]
    if t["problems"]:
        lines += ["Problems:", ""] + [f"- {p}" for p in t["problems"]] + [""]
    return lines


def write_results(results: dict) -> None:
    path = BENCH / "RESULTS.md"
    notes = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if "\n## Notes" in old:
            notes = old[old.index("\n## Notes"):]
    path.write_text(markdown(results) + notes.rstrip() + "\n", encoding="utf-8")
    (BENCH / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["embedding", "shipped", "scale"],
                        choices=["embedding", "shipped", "scale"])
    parser.add_argument("--scales", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--uniform-max", type=int, default=100_000,
                        help="Largest scale at which HNSW recall is also measured on uniform random vectors.")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.child_out.write_text(json.dumps(bench_scale(args.child, args.uniform_max)))
        return

    results = {**previous_results(), "environment": environment()}
    if "embedding" in args.parts:
        print(f"embedding throughput (load {load_average()})…", file=sys.stderr)
        results["embedding"] = bench_embedding()
        write_results(results)
    if "shipped" in args.parts:
        print(f"shipped corpus (load {load_average()})…", file=sys.stderr)
        results["shipped"] = bench_shipped()
        write_results(results)
    if "scale" in args.parts:
        real_embeddings()  # computed once, before the children need it
        scales = {s["chunks"]: s for s in results.get("scales", [])}
        for n in args.scales:
            print(f"{n:,} chunks (load {load_average()})…", file=sys.stderr)
            scales[n] = run_child(n, args.uniform_max)
            results["scales"] = [scales[k] for k in sorted(scales)]
            write_results(results)
    print(f"wrote {BENCH / 'RESULTS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
