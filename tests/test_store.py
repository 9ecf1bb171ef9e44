"""Index build, incremental update, atomic replacement and detection of broken or mismatched indexes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.store import build_index, index_status, load_index
from tests.conftest import make_home

REPORT_A = """# Peer challenge: Anytown Borough Council

## 1. Executive Summary

Anytown Borough Council has strong finances and a clear vision for the town centre.
The peer team met more than 90 people during the visit in March 2021.

## 2. Key recommendations

1. Refresh the medium term financial strategy. The MTFS should be updated each year.
2. Invest in the workforce. Staff surveys show low morale in planning services.
"""

REPORT_B = """# Peer challenge: Otherplace District Council

## 1. Executive Summary

Otherplace District Council faces a budget gap of £4m by 2024 and must modernise its IT.
"""


@pytest.fixture()
def small_home(tmp_path):
    return make_home(tmp_path, {"anytown.md": REPORT_A, "otherplace.md": REPORT_B})


def test_build_then_load(small_home):
    settings = Settings(home=small_home)
    report = build_index(settings)
    assert sorted(report.added) == ["anytown", "otherplace"]
    index = load_index(settings)
    assert len(index.chunks) == report.chunks == len(index.vectors) == index.faiss_index.ntotal
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-4)
    assert {d.council for d in index.documents.values()} == {"Anytown Borough Council", "Otherplace District Council"}
    assert [r["number"] for r in index.recommendations] == [1, 2]
    assert not index_status(settings).stale


def test_update_re_embeds_only_what_changed(small_home):
    settings = Settings(home=small_home)
    build_index(settings)
    before = load_index(settings)
    (small_home / "corpus" / "otherplace.md").write_text(REPORT_B + "\nA new paragraph about housing delivery.\n")
    assert index_status(settings).changed == ["otherplace.md"]
    report = build_index(settings)
    assert report.updated == ["otherplace"] and report.unchanged == ["anytown"]
    assert report.embedded == sum(1 for c in load_index(settings).chunks if c.doc_id == "otherplace")
    after = load_index(settings)
    old = {c.chunk_id: v for c, v in zip(before.chunks, before.vectors) if c.doc_id == "anytown"}
    new = {c.chunk_id: v for c, v in zip(after.chunks, after.vectors) if c.doc_id == "anytown"}
    assert old.keys() == new.keys() and all(np.array_equal(old[k], new[k]) for k in old)

    (small_home / "corpus" / "otherplace.md").unlink()
    report = build_index(settings)
    assert report.removed == ["otherplace"]
    assert {c.doc_id for c in load_index(settings).chunks} == {"anytown"}


def test_nothing_changed_means_nothing_written(small_home):
    settings = Settings(home=small_home)
    build_index(settings)
    manifest = (small_home / "index" / "manifest.json").read_text()
    report = build_index(settings)
    assert report.embedded == 0 and not report.changed
    assert (small_home / "index" / "manifest.json").read_text() == manifest


def test_a_broken_file_is_reported_and_the_rest_indexed(small_home):
    (small_home / "corpus" / "empty.txt").write_text("")
    report = build_index(Settings(home=small_home))
    assert [name for name, _ in report.failed] == ["empty.txt"]
    assert "empty" in report.failed[0][1].lower()
    assert sorted(report.added) == ["anytown", "otherplace"]


def build_forever(home: str) -> None:
    """Child process: rebuild the index in a loop until killed."""
    settings = Settings(home=home)
    while True:
        build_index(settings, rebuild=True)


def test_killed_build_leaves_a_usable_index(small_home):
    settings = Settings(home=small_home)
    build_index(settings)
    good = load_index(settings)
    context = multiprocessing.get_context("spawn")
    for delay in (2.0, 3.5):
        child = context.Process(target=build_forever, args=(str(small_home),))
        child.start()
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        index = load_index(settings)  # never half-written
        assert [c.text for c in index.chunks] == [c.text for c in good.chunks]


def test_corrupt_and_mismatched_indexes_are_detected(small_home):
    settings = Settings(home=small_home)
    build_index(settings)
    with pytest.raises(AssistantError, match="assistant index --rebuild"):
        load_index(settings.replace(embedding_model="some-other-model"))
    manifest_path = small_home / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    (small_home / "index" / manifest["files"]["vectors"]).write_bytes(b"not numpy")
    with pytest.raises(AssistantError, match="rebuild"):
        load_index(settings)
    report = build_index(settings)  # a broken index is rebuilt from scratch, not reused
    assert report.embedded == report.chunks
    load_index(settings)
    manifest_path.write_text("{ truncated")
    with pytest.raises(AssistantError, match="corrupt"):
        load_index(settings)


def test_missing_index_says_how_to_build_it(tmp_path):
    home = make_home(tmp_path, {"a.md": REPORT_A})
    with pytest.raises(AssistantError, match="assistant index"):
        load_index(Settings(home=home))
