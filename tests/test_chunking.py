"""Chunks respect token limits and structure, and their spans map back to the original files."""

from __future__ import annotations

import re

import pytest

from assistant.chunking import chunk_document, count_tokens
from assistant.corpus import load_corpus
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def documents():
    return load_corpus(CORPUS)


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{4,}", text)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_chunks_stay_within_the_token_limit(documents, size):
    for doc in documents:
        for chunk in chunk_document(doc, max_tokens=size, overlap=32):
            assert chunk.tokens == count_tokens(chunk.text)
            assert chunk.tokens <= size, (chunk.chunk_id, chunk.tokens)


def test_chunk_text_is_the_exact_span_of_the_cleaned_text(documents):
    for doc in documents:
        for chunk in chunk_document(doc):
            assert doc.text[chunk.start:chunk.end] == chunk.text


def test_chunk_lines_point_at_the_original_file(documents):
    """Every word of a chunk occurs in the original lines it claims to come from."""
    for doc in documents:
        original = doc.source_path.read_text(encoding="utf-8").splitlines()
        for chunk in chunk_document(doc):
            assert 1 <= chunk.line_start <= chunk.line_end <= len(original)
            span = " ".join(original[chunk.line_start - 1:chunk.line_end])
            first, last = words(chunk.text)[:1], words(chunk.text)[-1:]
            for word in first + last:
                assert word in span, (chunk.chunk_id, word, chunk.line_start, chunk.line_end)


def test_the_whole_document_is_covered(documents):
    for doc in documents:
        chunks = chunk_document(doc)
        covered = "".join(c.text for c in chunks)
        for word in set(words(doc.text)) - {"Executive", "Summary"}:
            if not doc.text.lstrip().startswith("#"):
                assert word in covered or word in "".join(c.section for c in chunks), word


def test_sections_are_carried_and_headings_not_crossed(documents):
    derby = next(d for d in documents if d.doc_id == "derby-city-2017-peer-challenge-report")
    chunks = chunk_document(derby)
    finance = [c for c in chunks if "4.4" in c.section]
    assert finance, [c.section for c in chunks]
    assert all(not re.search(r"^#", c.text, re.M) for c in chunks), "a heading line inside a chunk body"
    assert any("Financial planning" in c.section for c in finance)
    assert all(c.section in c.embedding_text() for c in chunks)


def test_a_numbered_recommendation_is_never_split(documents):
    derbyshire = next(d for d in documents if d.doc_id == "derbyshire-county-2018-peer-challenge-report")
    item = "Develop a more consistent and strategic approach to the council's budget and financial systems"
    for size in (128, 256):
        holders = [c for c in chunk_document(derbyshire, max_tokens=size) if item in c.text]
        assert holders, size
        assert any("A corporate position regularly reported" in c.text for c in holders), size


def test_overlap_repeats_a_block_between_neighbours(documents):
    report = next(d for d in documents if d.doc_id == "derbyshire-county-2018-peer-challenge-report")
    chunks = chunk_document(report, max_tokens=128, overlap=64)
    overlapping = sum(1 for a, b in zip(chunks, chunks[1:]) if a.doc_id == b.doc_id and b.start < a.end)
    assert overlapping > 0
    without = chunk_document(report, max_tokens=128, overlap=0)
    assert all(b.start >= a.end for a, b in zip(without, without[1:]))
