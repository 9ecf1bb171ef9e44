"""Sanity checks for the gold evaluation set in eval/questions.jsonl.

Self-contained: reads the corpus files directly and does not import the
``assistant`` package.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "corpus"

REQUIRED_KEYS = {"id", "question", "evidence", "doc", "councils", "answer", "kind"}
KINDS = {
    "fact", "number", "name", "list", "paraphrase", "keyword",
    "recommendation", "comparison", "follow-up", "unanswerable", "ambiguous",
}
COUNCILS = {"Derby City Council", "Derbyshire County Council"}


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def doc_ids(record: dict) -> list:
    doc = record["doc"]
    return [doc] if isinstance(doc, str) else list(doc)


@pytest.fixture(scope="module")
def records() -> list:
    assert GOLD.exists(), f"missing {GOLD}"
    out = []
    for lineno, line in enumerate(GOLD.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - failure path
            pytest.fail(f"line {lineno}: invalid JSON: {exc}")
        assert isinstance(rec, dict), f"line {lineno}: not a JSON object"
        out.append(rec)
    return out


@pytest.fixture(scope="module")
def corpus() -> dict:
    return {
        p.stem: collapse(p.read_text(encoding="utf-8"))
        for p in sorted(CORPUS.glob("*.txt"))
    }


def test_required_keys_and_types(records):
    for rec in records:
        rid = rec.get("id", "<no id>")
        missing = REQUIRED_KEYS - rec.keys()
        assert not missing, f"{rid}: missing keys {sorted(missing)}"
        assert isinstance(rec["question"], str) and rec["question"].strip(), f"{rid}: empty question"
        assert isinstance(rec["answer"], str), f"{rid}: answer must be a string"
        assert isinstance(rec["evidence"], list), f"{rid}: evidence must be a list"
        assert all(isinstance(q, str) for q in rec["evidence"]), f"{rid}: evidence items must be strings"
        assert isinstance(rec["doc"], (str, list)) and doc_ids(rec), f"{rid}: bad doc"
        assert isinstance(rec["councils"], list), f"{rid}: councils must be a list"
        assert set(rec["councils"]) <= COUNCILS, f"{rid}: unknown council in {rec['councils']}"
        if "history" in rec:
            assert isinstance(rec["history"], list) and rec["history"], f"{rid}: bad history"
            assert all(isinstance(h, str) and h.strip() for h in rec["history"]), f"{rid}: bad history item"


def test_ids_unique(records):
    ids = [rec["id"] for rec in records]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate ids: {dupes}"


def test_kinds_valid(records):
    for rec in records:
        assert rec["kind"] in KINDS, f"{rec['id']}: unknown kind {rec['kind']!r}"


def test_follow_ups_have_history(records):
    for rec in records:
        if rec["kind"] == "follow-up":
            assert rec.get("history"), f"{rec['id']}: follow-up without history"


def test_enough_questions(records):
    answerable = [r for r in records if r["kind"] != "unanswerable"]
    unanswerable = [r for r in records if r["kind"] == "unanswerable"]
    assert len(answerable) >= 100, f"only {len(answerable)} answerable questions"
    assert len(unanswerable) >= 10, f"only {len(unanswerable)} unanswerable questions"


def test_unanswerable_have_no_evidence(records):
    for rec in records:
        if rec["kind"] == "unanswerable":
            assert rec["evidence"] == [], f"{rec['id']}: unanswerable question has evidence"
            assert rec["answer"] == "", f"{rec['id']}: unanswerable question has an answer"
        else:
            assert rec["evidence"], f"{rec['id']}: answerable question without evidence"
            assert rec["answer"].strip(), f"{rec['id']}: answerable question without answer"


def test_doc_ids_exist(records, corpus):
    for rec in records:
        for doc in doc_ids(rec):
            assert doc in corpus, f"{rec['id']}: unknown doc id {doc!r}"


def test_evidence_quotes_found(records, corpus):
    problems = []
    for rec in records:
        texts = [corpus.get(doc, "") for doc in doc_ids(rec)]
        for quote in rec["evidence"]:
            needle = collapse(quote)
            if not needle or not any(needle in text for text in texts):
                problems.append(f"{rec['id']}: quote not found in {doc_ids(rec)}: {quote!r}")
    assert not problems, "\n".join(problems)


def test_multi_doc_questions_cite_each_doc(records, corpus):
    for rec in records:
        docs = doc_ids(rec)
        if len(docs) < 2 or not rec["evidence"]:
            continue
        for doc in docs:
            assert any(collapse(q) in corpus.get(doc, "") for q in rec["evidence"]), (
                f"{rec['id']}: no evidence quote from {doc}"
            )
