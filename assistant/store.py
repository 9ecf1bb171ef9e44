"""The index on disk: FAISS vectors, chunk records, documents and a manifest, replaced atomically.

A build writes new files under a fresh build id, then swaps `manifest.json` (one os.replace) to
point at them, then removes the old files. A crash at any moment leaves either the old or the new
index complete. The manifest records the embedding model, chunking settings and a fingerprint of
every corpus file, so only changed documents are re-embedded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.chunking import CHUNKER_VERSION, Chunk, chunk_document
from assistant.cleaning import CleanText
from assistant.config import Settings
from assistant.corpus import document_fingerprint, load_document, source_files
from assistant.errors import AssistantError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Exact search is fast enough below this many vectors; above it an HNSW graph keeps queries quick.
# The threshold and the HNSW parameters were chosen by measurement: see bench/RESULTS.md.
APPROXIMATE_FROM = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# ...doubled from this size on: at 1M chunks efSearch=256 finds 0.88 of the true 10 nearest, 512 finds
# 0.94 for about 5 ms a query, against 0.98 at 100k with 256.
HNSW_WIDER_FROM = 500_000
# A filter admitting at most this many chunks of an HNSW index is searched exactly over just those
# vectors: a graph walk that must skip most nodes can miss admitted neighbours, and this is cheap.
EXACT_FILTER_MAX = 20_000

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class DocumentRecord:
    """A document as the index keeps it: metadata plus the cleaned text shown in the report view."""

    doc_id: str
    title: str
    council: str
    kind: str
    date: str
    source_path: str
    text: str
    line_map: list[tuple[int, int]]
    fingerprint: str
    notes: str = ""

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date[:4].isdigit() else None

    def line_span(self, start: int, end: int) -> tuple[int, int]:
        """First and last lines of the original file that text[start:end] came from."""
        return CleanText(self.text, [tuple(pair) for pair in self.line_map]).line_span(start, end)

    def excerpt(self, start: int, end: int, chunk_id: str, section: str) -> Chunk:
        """text[start:end] as a passage to cite (a peer's line, a list item), with its original lines."""
        return Chunk(chunk_id, self.doc_id, self.title, self.council, self.kind, self.date, self.source_path,
                     section, self.text[start:end], start, end, *self.line_span(start, end), tokens=0)


class VectorStore(Protocol):
    """What indexing and retrieval need from a vector store; ids are chunk positions (0 .. len-1).

    FaissStore is the local implementation. When one machine is not enough, a class with these
    methods over Qdrant, pgvector or OpenSearch takes its place (see docs/scaling.md)."""

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append L2-normalised vectors; they take the next ids."""

    def remove(self, ids: np.ndarray) -> None:
        """Drop these ids; the ids after them shift down, as chunk positions do."""

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(id, cosine) pairs, best first; `allowed` restricts the search to those ids."""


class FaissStore:
    """Vectors in a FAISS index: exact (IndexFlatIP) while small, an HNSW graph from APPROXIMATE_FROM on."""

    def __init__(self, index: object):
        self.index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> "FaissStore":
        return cls(make_faiss_index(vectors))

    @property
    def approximate(self) -> bool:
        return hasattr(self.index, "hnsw")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype="float32")
        if not self.approximate and len(self) + len(vectors) >= APPROXIMATE_FROM:
            self.index = make_faiss_index(np.vstack([self.vectors(), vectors]))  # grown past exact search
        elif len(vectors):
            self.index.add(vectors)

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        ids = np.asarray(ids, dtype="int64")
        if not len(ids):
            return
        if self.approximate:  # an HNSW graph cannot drop nodes: rebuild it from the vectors that stay
            self.index = make_faiss_index(self.vectors(np.setdiff1d(np.arange(len(self)), ids)))
        else:
            self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def vectors(self, ids: np.ndarray | None = None) -> np.ndarray:
        if ids is None:
            return self.index.reconstruct_n(0, len(self))
        return self.index.reconstruct_batch(np.asarray(ids, dtype="int64"))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        import faiss

        if allowed is not None and len(allowed) == 0:
            return []
        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0:
            return []
        query = np.ascontiguousarray(query, dtype="float32").reshape(1, -1)
        if allowed is not None and self.approximate and len(allowed) <= EXACT_FILTER_MAX:
            scores = self.vectors(allowed) @ query[0]
            top = np.argsort(-scores, kind="stable")[:k]
            return [(int(allowed[i]), float(scores[i])) for i in top]
        params = None
        if self.approximate:
            self.index.hnsw.efSearch = HNSW_EF_SEARCH * (2 if len(self) >= HNSW_WIDER_FROM else 1)
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype="int64")))
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


@dataclass
class Index:
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray  # memory-mapped from disk: rows are read when used
    store: FaissStore
    documents: dict[str, DocumentRecord]
    recommendations: list[dict] = field(default_factory=list)

    @property
    def faiss_index(self) -> object:
        return self.store.index

    def search_dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk position, cosine) pairs, best first; `allowed` restricts the search to those positions."""
        return self.store.search(query, k, allowed)


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


# --- building ------------------------------------------------------------------------------


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (a second waits), across processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def settings_signature(settings: Settings, fingerprint: str) -> dict:
    return {
        "embedding_model": settings.embedding_model,
        "embedding_fingerprint": fingerprint,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "chunker_version": CHUNKER_VERSION,
    }


def build_index(settings: Settings, progress: Progress | None = None, rebuild: bool = False) -> BuildReport:
    """Bring the index in line with the corpus folder, re-embedding only what changed."""
    from assistant.embedding import get_embedder

    started = time.perf_counter()
    progress = progress or (lambda stage, done, total: None)
    embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
    signature = settings_signature(settings, embedder.fingerprint)
    with build_lock(settings.index_dir):
        old = None if rebuild else reusable_index(settings.index_dir, signature)
        report = BuildReport()
        documents: dict[str, DocumentRecord] = {}
        pending: list[tuple[DocumentRecord, list[Chunk]]] = []
        old_positions: dict[str, list[int]] = {}  # doc_id -> its chunks' positions in the old index
        for i, chunk in enumerate(old.chunks if old else []):
            old_positions.setdefault(chunk.doc_id, []).append(i)
        kept_docs: set[str] = set()

        sources = source_files(settings.corpus_dir)
        old_by_source = {d.source_path: d for d in old.documents.values()} if old else {}
        for n, source in enumerate(sources, 1):
            progress("reading", n, len(sources))
            previous = old_by_source.get(source.name)
            fingerprint = document_fingerprint(source)

            def keep_previous() -> None:
                kept_docs.add(previous.doc_id)
                documents[previous.doc_id] = previous

            if previous and previous.fingerprint == fingerprint:
                keep_previous()
                report.unchanged.append(previous.doc_id)
                continue
            try:
                doc = load_document(source, max_bytes=int(settings.max_file_mb * 2**20))
            except AssistantError as exc:
                if previous:  # a file that broke keeps its last good version in the index
                    keep_previous()
                    exc = AssistantError(f"{exc} (the previously indexed version is kept)")
                report.failed.append((source.name, str(exc)))
                continue
            if doc.doc_id in documents:
                report.failed.append((source.name, f"doc_id {doc.doc_id!r} is already used by another file"))
                continue
            record = DocumentRecord(
                doc_id=doc.doc_id, title=doc.meta.title, council=doc.meta.council, kind=doc.meta.kind,
                date=doc.meta.date, source_path=source.name, text=doc.text, line_map=doc.clean.line_map,
                fingerprint=fingerprint, notes=doc.meta.notes,
            )
            documents[doc.doc_id] = record
            pending.append((record, chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)))
            (report.updated if previous else report.added).append(doc.doc_id)

        if old:
            report.removed = sorted(set(old.documents) - set(documents))
        if old and not report.changed and not report.failed:
            report.unchanged = sorted(documents)
            report.chunks = len(old.chunks)
            report.seconds = time.perf_counter() - started
            return report

        new_chunks = [c for _, chunks in pending for c in chunks]
        done = 0

        def embedded(count: int) -> None:
            nonlocal done
            done += count
            progress("embedding", done, len(new_chunks))

        new_vectors = embedder.encode([c.embedding_text() for c in new_chunks], progress=embedded)
        dim = embedder.dimension
        # Kept chunks stay in their old order, so the old vector store only loses the dropped ids and
        # gains the new vectors at the end: an HNSW graph grows instead of being rebuilt.
        kept = np.array(sorted(i for doc_id in kept_docs for i in old_positions.get(doc_id, [])), dtype="int64")
        chunks = [old.chunks[i] for i in kept] + new_chunks
        vectors = np.empty((len(chunks), dim), dtype="float32")
        if len(kept):
            np.take(old.vectors, kept, axis=0, out=vectors[:len(kept)])
        vectors[len(kept):] = new_vectors
        store = None
        if old is not None:
            store = old.store
            store.remove(np.setdiff1d(np.arange(len(old.chunks)), kept))
            store.add(new_vectors)
        progress("writing", 0, 1)
        write_index(settings.index_dir, signature, dim, chunks, vectors, documents, store)
        progress("writing", 1, 1)
        report.chunks, report.embedded = len(chunks), len(new_chunks)
        report.seconds = time.perf_counter() - started
        return report


def make_faiss_index(vectors: np.ndarray, approximate_from: int | None = None):
    """An exact index for fewer than `approximate_from` (default APPROXIMATE_FROM) vectors, else HNSW."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= (APPROXIMATE_FROM if approximate_from is None else approximate_from):
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION  # the search width is set per search, by size
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype="float32"))
    return index


def write_index(index_dir: Path, signature: dict, dim: int, chunks: list[Chunk], vectors: np.ndarray,
                documents: dict[str, DocumentRecord], store: FaissStore | None = None) -> None:
    """Write a complete index under a new build id, then make it current by replacing the manifest."""
    import faiss

    from assistant.recommendations import extract_all

    build_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    files = {
        "chunks": f"chunks-{build_id}.jsonl",
        "vectors": f"vectors-{build_id}.npy",
        "faiss": f"faiss-{build_id}.index",
        "documents": f"documents-{build_id}.jsonl",
        "recommendations": f"recommendations-{build_id}.json",
    }
    faiss_index = (store or FaissStore.from_vectors(vectors)).index
    write_jsonl(index_dir / files["chunks"], (vars(c) for c in chunks))  # asdict() is 10x slower
    with open(index_dir / files["vectors"], "wb") as f:
        np.save(f, np.asarray(vectors, dtype="float32"))
    faiss.write_index(faiss_index, str(index_dir / files["faiss"]))
    write_jsonl(index_dir / files["documents"], (vars(d) for d in documents.values()))
    recommendations = extract_all(list(documents.values()))
    (index_dir / files["recommendations"]).write_text(json.dumps(recommendations, indent=1, ensure_ascii=False))
    per_document = Counter(c.doc_id for c in chunks)
    manifest = {
        "format": FORMAT_VERSION,
        "build_id": build_id,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **signature,
        "dimension": dim,
        "index_type": type(faiss_index).__name__,
        "count": len(chunks),
        "files": files,
        "documents": {d.doc_id: {"source": d.source_path, "fingerprint": d.fingerprint,
                                 "chunks": per_document[d.doc_id]}
                      for d in documents.values()},
    }
    tmp = index_dir / f".tmp-{build_id}-{MANIFEST}"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(index_dir / MANIFEST)  # the commit point
    remove_unreferenced(index_dir, set(files.values()))


def remove_unreferenced(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        stem = path.name.split("-", 1)[0]
        if stem in {"chunks", "vectors", "faiss", "documents", "recommendations", ".tmp"} and path.name not in keep:
            path.unlink(missing_ok=True)


def write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- loading -------------------------------------------------------------------------------


def read_manifest(index_dir: Path) -> dict | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise AssistantError(f"{path} is corrupt: run `assistant index --rebuild` to build the index again.") from None


def reusable_index(index_dir: Path, signature: dict) -> Index | None:
    """The existing index, if it was built with the same model and chunking (else everything is re-embedded)."""
    manifest = read_manifest(index_dir)
    if manifest is None or any(manifest.get(k) != v for k, v in signature.items()):
        return None
    try:
        return load_index_files(index_dir, manifest)
    except AssistantError:
        return None


def load_index(settings: Settings) -> Index:
    """The index as built, checked against the settings; errors say how to fix the problem."""
    manifest = checked_manifest(settings)
    for _ in range(2):
        try:
            return load_index_files(settings.index_dir, manifest)
        except AssistantError:
            # A build that committed while we were reading removes the old files: read the new index instead.
            latest = checked_manifest(settings)
            if latest.get("build_id") == manifest.get("build_id"):
                raise
            manifest = latest
    return load_index_files(settings.index_dir, manifest)


def checked_manifest(settings: Settings) -> dict:
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        raise AssistantError(f"No index in {settings.index_dir}: run `assistant index` to build it.")
    if manifest.get("format") != FORMAT_VERSION:
        raise AssistantError(f"The index in {settings.index_dir} has an old format: run `assistant index --rebuild`.")
    if manifest.get("embedding_model") != settings.embedding_model:
        raise AssistantError(
            f"The index was built with embedding model {manifest.get('embedding_model')!r} but the settings ask for "
            f"{settings.embedding_model!r}: run `assistant index --rebuild`, or set ASSISTANT_EMBEDDING_MODEL back."
        )
    return manifest


def load_index_files(index_dir: Path, manifest: dict) -> Index:
    import faiss

    files = manifest["files"]
    missing = [name for name in files.values() if not (index_dir / name).exists()]
    if missing:
        raise AssistantError(f"The index in {index_dir} is missing {', '.join(missing)}: run `assistant index --rebuild`.")
    try:
        chunks = [Chunk(**json.loads(line)) for line in open(index_dir / files["chunks"], encoding="utf-8")]
        vectors = np.load(index_dir / files["vectors"], mmap_mode="r")
        faiss_index = faiss.read_index(str(index_dir / files["faiss"]))
        documents = {}
        for line in open(index_dir / files["documents"], encoding="utf-8"):
            row = json.loads(line)
            row["line_map"] = [tuple(pair) for pair in row["line_map"]]
            documents[row["doc_id"]] = DocumentRecord(**row)
        recommendations = json.loads((index_dir / files["recommendations"]).read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError, RuntimeError, OSError) as exc:
        raise AssistantError(f"The index in {index_dir} is corrupt ({exc}): run `assistant index --rebuild`.") from None
    count, dim = manifest.get("count"), manifest.get("dimension")
    if not (len(chunks) == count == len(vectors) == faiss_index.ntotal) or (len(vectors) and vectors.shape[1] != dim) \
            or faiss_index.d != dim:
        raise AssistantError(
            f"The index in {index_dir} is inconsistent (chunks, vectors and FAISS disagree): run `assistant index --rebuild`."
        )
    return Index(manifest, chunks, vectors, FaissStore(faiss_index), documents, recommendations)


@dataclass
class Status:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.new or self.changed or self.removed)


def index_status(settings: Settings) -> Status:
    """Which corpus files the index does not reflect (by file fingerprint, without loading anything heavy)."""
    manifest = read_manifest(settings.index_dir) or {"documents": {}}
    indexed = {d["source"]: d["fingerprint"] for d in manifest["documents"].values()}
    status = Status()
    sources = source_files(settings.corpus_dir)
    for source in sources:
        if source.name not in indexed:
            status.new.append(source.name)
        elif indexed[source.name] != document_fingerprint(source):
            status.changed.append(source.name)
    status.removed = sorted(set(indexed) - {s.name for s in sources})
    return status
