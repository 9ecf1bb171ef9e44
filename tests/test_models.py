"""Model backends: shipped-model assembly, spec parsing, the real 0.5B model, and an OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.models import (
    SHIPPED_MODELS,
    ChatModel,
    ShippedModel,
    assembled_model_path,
    load_model,
    shipped_model_path,
)

SMALL = SHIPPED_MODELS["qwen2.5-0.5b"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 23):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def shipped_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the assembled 0.5B model (assembled once per test session)."""
    cache = tmp_path_factory.mktemp("cache")
    shipped_model_path(SMALL.name, cache)
    return cache


@pytest.fixture(scope="session")
def one_part_model() -> ShippedModel:
    """A cheap stand-in shipped model: just the first 85 MB part of the 0.5B model."""
    first_part = Path(__import__(SMALL.module_name(1)).get_part_path())
    return dataclasses.replace(
        SMALL,
        name="first-part-only",
        part_count=1,
        filename="first-part.bin",
        size=first_part.stat().st_size,
        sha256=sha256_of(first_part),
    )


# --- Shipped model assembly -------------------------------------------------------------------


def test_shipped_model_is_assembled_with_the_published_checksum(shipped_cache: Path) -> None:
    path = shipped_cache / "models" / SMALL.filename
    assert path.stat().st_size == SMALL.size
    assert sha256_of(path) == SMALL.sha256
    assert sorted(p.name for p in path.parent.iterdir()) == [SMALL.filename, SMALL.filename + ".sha256"]


def test_assembly_reports_progress(tmp_path: Path, one_part_model: ShippedModel) -> None:
    progress: list[tuple[int, int]] = []
    assembled_model_path(one_part_model, tmp_path, progress=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (one_part_model.size, one_part_model.size)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_verified_cached_model_is_reused_not_rebuilt(shipped_cache: Path) -> None:
    path = shipped_cache / "models" / SMALL.filename
    before = path.stat().st_mtime_ns
    progress: list[tuple[int, int]] = []
    assert shipped_model_path(SMALL.name, shipped_cache, lambda d, t: progress.append((d, t))) == path
    assert path.stat().st_mtime_ns == before
    assert progress == []


def test_wrong_checksum_is_rejected_and_nothing_is_left_behind(tmp_path: Path, one_part_model: ShippedModel) -> None:
    wrong = dataclasses.replace(one_part_model, sha256="0" * 64)
    with pytest.raises(AssistantError, match="SHA-256"):
        assembled_model_path(wrong, tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_truncated_cached_file_is_rebuilt(tmp_path: Path, one_part_model: ShippedModel) -> None:
    path = assembled_model_path(one_part_model, tmp_path)
    with path.open("r+b") as f:
        f.truncate(1000)
    assert assembled_model_path(one_part_model, tmp_path) == path
    assert sha256_of(path) == one_part_model.sha256


def test_edited_cached_file_is_rebuilt(tmp_path: Path, one_part_model: ShippedModel) -> None:
    path = assembled_model_path(one_part_model, tmp_path)
    mtime = path.stat().st_mtime_ns
    with path.open("r+b") as f:
        f.write(b"corrupted")
    os.utime(path, ns=(mtime + 10**9, mtime + 10**9))  # as a later write would
    assert assembled_model_path(one_part_model, tmp_path) == path
    assert sha256_of(path) == one_part_model.sha256


def test_cached_file_without_verification_record_is_rebuilt(tmp_path: Path, one_part_model: ShippedModel) -> None:
    path = tmp_path / "models" / one_part_model.filename
    path.parent.mkdir()
    path.write_bytes(b"\0" * one_part_model.size)  # right size, never verified
    assert assembled_model_path(one_part_model, tmp_path) == path
    assert sha256_of(path) == one_part_model.sha256


def test_missing_part_package_names_what_to_install(tmp_path: Path) -> None:
    absent = dataclasses.replace(
        SMALL, module_pattern="no_such_model_part{i}", package_pattern="no-such-model-part{i}", part_count=2
    )
    with pytest.raises(AssistantError, match=r"pip install no-such-model-part1==0\.9\.0 no-such-model-part2=="):
        assembled_model_path(absent, tmp_path)


def test_unknown_shipped_name_lists_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match="qwen2.5-1.5b"):
        shipped_model_path("gpt-5", tmp_path)


# --- Model specs -------------------------------------------------------------------------------


def test_unknown_spec_lists_the_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(AssistantError) as error:
        load_model("llama3", Settings(cache_dir=tmp_path))
    message = str(error.value)
    assert ".gguf" in message and "openai:" in message and "qwen2.5-0.5b" in message


def test_missing_gguf_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match="does not exist"):
        load_model(str(tmp_path / "absent.gguf"), Settings(cache_dir=tmp_path))


def test_openai_spec_without_model_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match="#<model name>"):
        load_model("openai:http://127.0.0.1:1/v1", Settings(cache_dir=tmp_path))


# --- The real shipped model --------------------------------------------------------------------


@pytest.fixture(scope="session")
def small_model(shipped_cache: Path) -> ChatModel:
    pytest.importorskip("llama_cpp")
    return load_model(SMALL.name, Settings(cache_dir=shipped_cache, threads=2, context_tokens=512))


CAPITAL = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_shipped_small_model_streams_a_reply(small_model: ChatModel, shipped_cache: Path) -> None:
    settings = Settings(cache_dir=shipped_cache, threads=2, context_tokens=512)
    assert load_model(SMALL.name, settings) is small_model  # one loaded copy per process
    assert small_model.name == SMALL.name
    assert small_model.load_seconds > 0
    pieces = list(small_model.stream(CAPITAL, max_tokens=16))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "Paris" in "".join(pieces)


def test_concurrent_generations_take_turns(small_model: ChatModel) -> None:
    expected = "".join(small_model.stream(CAPITAL, max_tokens=8))
    replies: list[str] = []
    threads = [
        threading.Thread(target=lambda: replies.append("".join(small_model.stream(CAPITAL, max_tokens=8))))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert replies == [expected, expected]


def test_prompt_longer_than_context_is_reported(small_model: ChatModel) -> None:
    long_prompt = [{"role": "user", "content": "council " * 600}]
    with pytest.raises(AssistantError, match="ASSISTANT_CONTEXT_TOKENS"):
        list(small_model.stream(long_prompt, max_tokens=8))


# --- OpenAI-compatible server ------------------------------------------------------------------


class FakeOpenAIServer(ThreadingHTTPServer):
    """A real HTTP server speaking the OpenAI streaming chat protocol, replying with fixed pieces."""

    reply = ["Peers ", "praised ", "the finance team [1]."]

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], dict]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.path != "/v1/chat/completions":
            self.send_error(404, "no such route")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [{"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in self.server.reply]
        chunks += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b": keep-alive comment\n\ndata: [DONE]\n\n")

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_openai_compatible_server_streams_reply(
    openai_server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_API_KEY", "secret-key")
    model = load_model(f"openai:{openai_server.base_url}#tiny-model", Settings(cache_dir=tmp_path))
    messages = [{"role": "user", "content": "What did peers say?"}]
    pieces = list(model.stream(messages, max_tokens=20, temperature=0.2, stop=["\n\n"]))
    assert pieces == FakeOpenAIServer.reply
    path, headers, body = openai_server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer secret-key"
    assert body == {
        "model": "tiny-model",
        "messages": messages,
        "max_tokens": 20,
        "temperature": 0.2,
        "stream": True,
        "stop": ["\n\n"],
    }


def test_openai_http_error_is_reported(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    wrong_base = openai_server.base_url.removesuffix("/v1") + "/api"
    model = load_model(f"openai:{wrong_base}#tiny-model", Settings(cache_dir=tmp_path))
    with pytest.raises(AssistantError, match="HTTP 404"):
        list(model.stream([{"role": "user", "content": "hi"}], max_tokens=5))


def test_unreachable_openai_server_is_reported(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = load_model(f"openai:http://127.0.0.1:{port}/v1#tiny-model", Settings(cache_dir=tmp_path))
    with pytest.raises(AssistantError, match="is the server running"):
        list(model.stream([{"role": "user", "content": "hi"}], max_tokens=5))
