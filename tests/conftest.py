"""Shared fixtures: the real corpus indexed once per test session with the real embedding model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    """A project home with a copy of the shipped corpus and an index built from it."""
    from assistant.config import Settings
    from assistant.store import build_index

    path = tmp_path_factory.mktemp("home")
    shutil.copytree(CORPUS, path / "corpus")
    build_index(Settings(home=path))
    return path


@pytest.fixture(scope="session")
def settings(home):
    from assistant.config import Settings

    return Settings(home=home)


@pytest.fixture(scope="session")
def retriever(settings):
    from assistant.retrieval import Retriever

    return Retriever.from_settings(settings)


@pytest.fixture(scope="session")
def small_model_settings(settings):
    """Settings that answer with the small shipped model (fast enough for tests on 2 cores)."""
    return settings.replace(model="qwen2.5-0.5b", max_answer_tokens=160)


@pytest.fixture(scope="session")
def assistant(small_model_settings, retriever):
    from assistant.answer import Assistant

    return Assistant(small_model_settings, retriever)


def make_home(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project home whose corpus holds the given text files (name -> content)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return tmp_path
