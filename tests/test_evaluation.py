"""The evaluation harness: metrics on hand-made rankings, the quote matcher, question files, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import evaluation as ev
from assistant.cli import main
from assistant.errors import AssistantError

GOLD = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"


def test_recall_counts_the_share_of_quotes_in_the_top_k():
    quotes = ["the budget was balanced in 2017", "reserves fell to five million pounds"]
    ranking = ["Nothing here.", "We found the budget was balanced in 2017 again.", "Reserves fell to five million pounds."]
    assert ev.evidence_recall(quotes, ranking[:1]) == 0.0
    assert ev.evidence_recall(quotes, ranking[:2]) == 0.5
    assert ev.evidence_recall(quotes, ranking[:3]) == 1.0


def test_reciprocal_rank_is_one_over_the_first_relevant_rank():
    assert ev.reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert ev.reciprocal_rank([True]) == 1.0
    assert ev.reciprocal_rank([False, False]) == 0.0


def test_ndcg_against_the_ideal_ranking():
    assert ev.ndcg([True, True, False], 10, n_relevant=2) == pytest.approx(1.0)
    # one relevant item at rank 2 of a collection holding one: 1/log2(3)
    assert ev.ndcg([False, True], 10, n_relevant=1) == pytest.approx(1 / math.log2(3))
    # two exist but only one was found, at rank 1
    assert ev.ndcg([True, False], 10, n_relevant=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ev.ndcg([False, False], 10, n_relevant=0) == 0.0


def test_token_budget_cuts_the_last_passage_to_fit():
    from assistant.chunking import count_tokens

    texts = ["word " * 300, "second passage " * 100, "never reached"]
    kept = ev.within_budget(texts, 500)
    assert len(kept) == 2
    assert sum(count_tokens(t) for t in kept) <= 502  # decoding a cut can merge a token or two
    assert ev.within_budget(texts, 100)[0].split() == ["word"] * 100


def test_quote_matcher_ignores_curly_quotes_dashes_case_and_whitespace():
    passage = "The council’s six “super pledges” – launched by\nthe Cabinet   in April 2017 – are not resourced."
    assert ev.quote_in('the Council\'s six "super pledges" - launched by the cabinet in April 2017', passage)
    assert not ev.quote_in("the council's seven pledges were fully funded from reserves last year", passage)


def test_quote_matcher_accepts_a_quote_cut_by_a_chunk_boundary():
    quote = "one two three four five six seven eight nine ten"
    assert ev.quote_in(quote, "... one two three four five six seven eight")  # 80% of the words
    assert not ev.quote_in(quote, "one two three four five six seven")  # 70%
    assert ev.quote_in(quote, "nine ten. Next chunk: one two three four five six seven eight")  # any order


def test_loading_a_questions_file_with_a_bad_line_names_the_line(tmp_path):
    path = tmp_path / "questions.jsonl"
    good = {"id": "a1", "question": "What?", "evidence": ["x y z"], "doc": "d", "councils": [], "kind": "fact"}
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="line 3"):
        ev.load_questions(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "evidence": "not a list"}) + "\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="line 2.*evidence"):
        ev.load_questions(path)
    with pytest.raises(AssistantError, match="not found"):
        ev.load_questions(tmp_path / "missing.jsonl")


def test_a_bad_config_says_what_can_be_set():
    assert ev.parse_config("hybrid:rrf_k=20").overrides == {"rrf_k": 20}
    with pytest.raises(AssistantError, match="can't be set"):
        ev.parse_config("hybrid:colour=blue")
    with pytest.raises(AssistantError, match="start it with one of"):
        ev.parse_config("fancy")


def test_answer_subset_keeps_every_unanswerable_question():
    questions = ev.load_questions(GOLD)
    subset = ev.answer_subset(questions, 40)
    assert len(subset) == 40
    assert {q.id for q in questions if not q.answerable} <= {q.id for q in subset}
    assert len({q.kind for q in subset}) == len({q.kind for q in questions})


def test_every_gold_quote_is_in_the_cleaned_text_of_its_document(retriever):
    """Cleaning must keep the reports' wording: a quote missing here is a cleaning bug."""
    documents = retriever.index.documents
    cleaned = {doc_id: ev.normalise(d.text) for doc_id, d in documents.items()}
    missing = []
    for q in ev.load_questions(GOLD):
        for quote in q.evidence:
            if not any(ev.normalise(quote) in cleaned.get(doc, "") for doc in q.docs):
                missing.append(f"{q.id} ({', '.join(q.docs)}): {quote!r}")
    assert not missing, "gold quotes lost by cleaning:\n" + "\n".join(missing)


def test_eval_command_reports_retrieval_as_json(home, tmp_path):
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()[:2]]
    rows.append({"id": "x1", "question": "What did Derby say about its space programme?", "evidence": [],
                 "doc": rows[0]["doc"], "councils": ["Derby City Council"], "answer": "", "kind": "unanswerable"})
    questions = tmp_path / "tiny.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "results"

    result = CliRunner().invoke(main, ["--home", str(home), "eval", "--questions", str(questions), "--json",
                                       "--configs", "hybrid", "--out", str(out)])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (hybrid,) = report["retrieval"]
    assert hybrid["config"] == "hybrid"
    assert hybrid["overall"]["questions"] == 2
    assert 0.0 <= hybrid["overall"]["recall"]["5"] <= hybrid["overall"]["recall"]["10"] <= 1.0
    assert 0.0 < hybrid["overall"]["mrr"] <= 1.0
    assert {"cosine", "coverage"} <= set(report["refusal_thresholds"]["best"])
    assert (out / "retrieval.md").read_text().startswith("## Retrieval on 3 questions")
    assert (out / "recall_at_k.png").stat().st_size > 1000


def test_eval_command_rejects_a_bad_questions_file_in_one_line(home, tmp_path):
    questions = tmp_path / "bad.jsonl"
    questions.write_text('{"id": "q1"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--home", str(home), "eval", "--questions", str(questions),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "line 1" in result.output and "Traceback" not in result.output


def test_recorded_replies_are_rechecked_without_the_model(home, tmp_path):
    """`eval --answers --replay` runs the checks on the replies a run recorded; a prompt the recording
    lacks goes to the model, and its reply is recorded with the rest."""
    row = next(json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if '"q022"' in line)
    questions = tmp_path / "one.jsonl"
    questions.write_text(json.dumps(row) + "\n", encoding="utf-8")
    draft = "The council's net revenue budget for 2017/18 is £215m [1]."
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text(json.dumps({"id": "q022", "drafts": [draft], "first_token": 9.5, "total": 12.0}) + "\n",
                        encoding="utf-8")
    out = tmp_path / "replayed"
    args = ["--home", str(home), "eval", "--answers", "--questions", str(questions), "--configs", "hybrid",
            "--json", "--out", str(out), "--replay"]

    result = CliRunner().invoke(main, args + [str(recorded)])

    assert result.exit_code == 0, result.output
    (answer,) = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert answer["drafts"] == [draft] and not answer["declined"] and "£215m" in answer["text"]
    assert answer["first_token"] == 9.5  # the recorded run's time, not the replay's

    recorded.write_text(json.dumps({"id": "q022", "drafts": [draft], "prompts": ["0" * 16], "first_token": 9.5,
                                    "total": 12.0}) + "\n", encoding="utf-8")
    result = CliRunner(env={"ASSISTANT_MODEL": "qwen2.5-0.5b"}).invoke(main, args + [str(recorded)])
    assert result.exit_code == 0, result.output
    (answer,) = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert answer["prompts"] != ["0" * 16] and len(answer["prompts"][0]) == 16
    assert answer["drafts"] and answer["drafts"] != [draft]  # the small model's own reply
    assert answer["first_token"] != 9.5  # timed now, not taken from the recording


class Words:
    """Stands in for the model, streaming the same long draft word by word on every call."""

    def __init__(self, text: str):
        self.name, self.words = "words", text.split(" ")

    def stream(self, messages, max_tokens, temperature=0.0, stop=None):
        yield from (word if i == 0 else " " + word for i, word in enumerate(self.words))


def test_drafts_cut_short_are_recorded_and_replay_to_the_same_answer(settings, retriever):
    """The assistant stops reading a draft at its sentence limit; the recording must still keep one reply
    per prompt, or a replay pairs the next prompt with the wrong reply."""
    from assistant.answer import Assistant

    question = "How do Derby and Derbyshire compare on finance?"
    draft = " ".join(f"Point {i} about the council's budget is made [1]." for i in range(6))
    recording = ev.RecordingModel(Words(draft))
    first = Assistant(settings, retriever, model=recording).ask(question)
    assert len(recording.drafts) == len(recording.prompts) >= 2
    assert all(d.count("Point") < 6 for d in recording.drafts)
    replay = ev.ReplayModel({"prompts": recording.prompts, "drafts": recording.drafts}, "q")
    again = Assistant(settings, retriever, model=replay).ask(question)
    assert again.text == first.text and replay.drafts == recording.drafts
