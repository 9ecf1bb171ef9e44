"""Measuring the assistant: retrieval and answers on the gold questions, and retrieval on a BEIR benchmark.

Everything here returns data (dataclasses and Markdown strings); the `assistant eval` command prints
and saves it. The numbers and how they were used to pick defaults are in eval/RESULTS.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.chunking import count_tokens, encoder
from assistant.config import Settings
from assistant.errors import AssistantError

RECALL_KS = (1, 3, 5, 10)
TOKEN_BUDGETS = (500, 1000, 2000)
WRONG_COUNCIL_K = 5
MIN_WORD_SHARE = 0.8  # share of a quote's words a passage must hold when the quote is not a plain substring
MODES = ("hybrid", "dense", "lexical")
WORD = re.compile(r"[0-9a-z£%]+(?:[.,'][0-9a-z]+)*")
TRANSLATE = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
                           "–": "-", "—": "-", "‑": "-", "‒": "-", "−": "-", "\u00a0": " "})

Progress = Callable[[int], None]  # told how many steps just finished


# --- gold questions ------------------------------------------------------------------------


@dataclass
class GoldQuestion:
    """One line of a questions file (format: eval/README.md)."""

    id: str
    question: str
    evidence: list[str]
    docs: list[str]
    councils: list[str]
    answer: str = ""
    kind: str = "fact"
    history: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def load_questions(path: Path) -> list[GoldQuestion]:
    """Questions from a JSONL file; a malformed line raises AssistantError naming the line."""
    path = Path(path)
    if not path.is_file():
        raise AssistantError(f"Questions file {path} not found: give one with --questions (format: eval/README.md).")
    questions: list[GoldQuestion] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line)))
        except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            raise AssistantError(
                f"{path} line {n}: {exc}; fix that line (one JSON object per line, format in eval/README.md)."
            ) from None
    if not questions:
        raise AssistantError(f"{path} holds no questions: add one JSON object per line (format: eval/README.md).")
    return questions


def parse_question(row: object) -> GoldQuestion:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    for key in ("id", "question"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise ValueError(f"{key!r} must be a non-empty string")
    docs = row.get("doc", [])
    docs = [docs] if isinstance(docs, str) else docs
    lists = {"evidence": row.get("evidence", []), "doc": docs, "councils": row.get("councils", []),
             "history": row.get("history", [])}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key!r} must be a list of strings")
    return GoldQuestion(row["id"], row["question"], lists["evidence"], docs, lists["councils"],
                        str(row.get("answer", "")), str(row.get("kind", "fact")), lists["history"])


# --- matching evidence quotes to passages --------------------------------------------------


def normalise(text: str) -> str:
    """Case-folded, curly quotes and dashes made plain, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.translate(TRANSLATE)).strip().casefold()


def words(text: str) -> list[str]:
    return WORD.findall(normalise(text))


@dataclass(frozen=True)
class MatchText:
    """A passage prepared for quote matching."""

    text: str
    vocabulary: frozenset[str]


@lru_cache(maxsize=20_000)
def match_text(text: str) -> MatchText:
    flat = normalise(text)
    return MatchText(flat, frozenset(WORD.findall(flat)))


def quote_in(quote: str, text: str, min_share: float = MIN_WORD_SHARE) -> bool:
    """Whether a passage holds an evidence quote: verbatim (after normalising), or at least `min_share`
    of the quote's words in any order, since a quote can run across a chunk boundary."""
    passage = match_text(text)
    needle = normalise(quote)
    if needle and needle in passage.text:
        return True
    quote_words = WORD.findall(needle)
    return bool(quote_words) and sum(w in passage.vocabulary for w in quote_words) >= min_share * len(quote_words)


def holds_evidence(text: str, quotes: Iterable[str]) -> bool:
    return any(quote_in(q, text) for q in quotes)


# --- ranking metrics -----------------------------------------------------------------------


def evidence_recall(quotes: list[str], texts: list[str]) -> float:
    """Share of the quotes found in at least one of the texts."""
    if not quotes:
        return 0.0
    return sum(any(quote_in(q, t) for t in texts) for q in quotes) / len(quotes)


def reciprocal_rank(relevance: list[bool]) -> float:
    return next((1.0 / (i + 1) for i, r in enumerate(relevance) if r), 0.0)


def ndcg(relevance: list[bool], k: int, n_relevant: int) -> float:
    """Binary nDCG@k; `n_relevant` is how many relevant items exist in the whole collection."""
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(relevance[:k]) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return dcg / ideal if ideal else 0.0


def within_budget(texts: list[str], budget: int) -> list[str]:
    """The texts in rank order up to `budget` tokens in all, the last one cut to fit."""
    kept, used = [], 0
    for text in texts:
        if used >= budget:
            break
        tokens = count_tokens(text)
        if used + tokens > budget:
            text = encoder().decode(encoder().encode(text, disallowed_special=())[:budget - used])
            tokens = budget - used
        kept.append(text)
        used += tokens
    return kept


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


# --- retrieval on the gold set -------------------------------------------------------------


@dataclass
class RetrievalConfig:
    """A way to retrieve: a mode plus Settings overrides, written like 'hybrid' or 'hybrid:rrf_k=20'."""

    mode: str
    overrides: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ":".join([self.mode, *(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in self.overrides.items())])


def parse_config(spec: str) -> RetrievalConfig:
    mode, *parts = spec.strip().split(":")
    if mode not in MODES:
        raise AssistantError(f"Unknown retrieval config {spec!r}: start it with one of {', '.join(MODES)}.")
    tunable = tunable_settings()
    overrides: dict[str, float | str] = {}
    for part in parts:
        key, _, value = part.partition("=")
        if key not in tunable:
            raise AssistantError(f"In config {spec!r}, {key!r} can't be set: use one of {', '.join(tunable)}.")
        try:
            overrides[key] = tunable[key](value)
        except ValueError:
            raise AssistantError(f"In config {spec!r}, {key}={value!r} is not a {tunable[key].__name__}.") from None
    return RetrievalConfig(mode, overrides)


def tunable_settings() -> dict[str, type]:
    """Settings a config may override: retrieval-time numbers and words (chunking needs --chunk-sizes)."""
    import dataclasses

    defaults = Settings()
    skip = {"chunk_tokens", "chunk_overlap", "embedding_batch_size", "max_answer_tokens", "threads",
            "context_tokens", "max_file_mb", "embedding_model", "model", "temperature"}
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(Settings)
            if f.name not in skip and type(getattr(defaults, f.name)) in (int, float, str)}


@dataclass
class QuestionResult:
    """How retrieval did on one question."""

    id: str
    kind: str
    docs: list[str]
    answerable: bool
    recall: dict[int, float]  # k -> share of quotes in the top k
    budget_recall: dict[int, float]  # tokens -> share of quotes within that much retrieved text
    rr: float
    ndcg: float
    wrong_council: tuple[int, int] | None  # (wrong, looked at) in the top WRONG_COUNCIL_K
    max_cosine: float  # best dense cosine among the top_k passages: one signal the refusal check sees
    coverage: float  # share of the question's informative words the top_k passages hold: the other one
    top: list[str]  # chunk ids, best first
    seconds: dict[str, float]


def question_scopes(retriever, question: GoldQuestion):
    """The question's Scope, with the history read first, oldest question first, as a chat would."""
    history = []
    for earlier in question.history:
        history.append(retriever.analyse(earlier, history))
    return retriever.analyse(question.question, history)


class RememberedQueries:
    """An embedder that embeds each query once, so comparing configs on one index doesn't repeat the
    slowest step; it remembers how long each embedding took, for the latency figures."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.vectors: dict[str, tuple[np.ndarray, float]] = {}

    def encode_query(self, text: str) -> np.ndarray:
        if text not in self.vectors:
            started = time.perf_counter()
            vector = self.embedder.encode_query(text)
            self.vectors[text] = (vector, time.perf_counter() - started)
        return self.vectors[text][0]

    def seconds(self, text: str) -> float:
        self.encode_query(text)
        return self.vectors[text][1]

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)


def evaluate_question(retriever, question: GoldQuestion, mode: str, relevant_total: int) -> QuestionResult:
    """Retrieval for one question; the retriever's embedder is a RememberedQueries, so 'search' is timed
    without the embedding and 'embed' is the embedding alone."""
    settings = retriever.settings
    k = max(max(RECALL_KS), settings.candidates)  # a prefix of the same ranking (the pool stays `candidates`)
    t0 = time.perf_counter()
    scope = question_scopes(retriever, question)
    t1 = time.perf_counter()
    embed = retriever.embedder.seconds(scope.query) if mode in ("hybrid", "dense") else 0.0
    t2 = time.perf_counter()
    passages = retriever.search_scope(scope, k=k, mode=mode)
    t3 = time.perf_counter()
    texts = [p.chunk.text for p in passages]
    quotes = question.evidence
    relevance = [holds_evidence(t, quotes) for t in texts[:max(RECALL_KS)]]
    wrong = None
    if question.councils:
        top = passages[:WRONG_COUNCIL_K]
        wrong = (sum(p.chunk.council not in question.councils for p in top), len(top))
    cosines = [p.dense for p in passages[:settings.top_k] if p.dense is not None]  # none in lexical mode
    coverage = retriever.coverage(scope, passages[:settings.top_k])
    return QuestionResult(
        id=question.id, kind=question.kind, docs=question.docs, answerable=question.answerable,
        recall={n: evidence_recall(quotes, texts[:n]) for n in RECALL_KS},
        budget_recall={b: evidence_recall(quotes, within_budget(texts, b)) for b in TOKEN_BUDGETS},
        rr=reciprocal_rank(relevance), ndcg=ndcg(relevance, 10, relevant_total),
        wrong_council=wrong, max_cosine=max(cosines, default=0.0), coverage=coverage,
        top=[p.chunk.chunk_id for p in passages[:10]],
        seconds={"analyse": t1 - t0, "embed": embed, "search": t3 - t2},
    )


@dataclass
class Summary:
    """Averages over a set of question results: ranking metrics over the answerable questions; wrong-council
    rate and latency over all of them."""

    questions: int
    recall: dict[int, float]
    budget_recall: dict[int, float]
    mrr: float
    ndcg: float
    wrong_council: float | None  # share of top-5 passages from a council the question did not ask about
    latency_ms: dict[str, tuple[float, float]]  # stage -> (p50, p95)


def summarise(results: list[QuestionResult]) -> Summary:
    scored = [r for r in results if r.answerable]
    n = len(scored) or 1
    wrong = [r.wrong_council for r in results if r.wrong_council]
    looked = sum(w[1] for w in wrong)
    stages = results[0].seconds if results else {}
    return Summary(
        questions=len(scored),
        recall={k: sum(r.recall[k] for r in scored) / n for k in RECALL_KS},
        budget_recall={b: sum(r.budget_recall[b] for r in scored) / n for b in TOKEN_BUDGETS},
        mrr=sum(r.rr for r in scored) / n,
        ndcg=sum(r.ndcg for r in scored) / n,
        wrong_council=sum(w[0] for w in wrong) / looked if looked else None,
        latency_ms={s: (percentile([1000 * r.seconds[s] for r in results], 50),
                        percentile([1000 * r.seconds[s] for r in results], 95)) for s in stages},
    )


@dataclass
class ConfigReport:
    """One retrieval configuration run over the questions."""

    config: str
    chunk_tokens: int
    chunk_overlap: int
    chunks: int
    unmatched_quotes: int  # gold quotes no single chunk of this index holds (a ceiling on recall)
    overall: Summary
    halves: dict[str, Summary]  # "odd" / "even" question ids: tune on one, check on the other
    per_kind: dict[str, Summary]
    per_doc: dict[str, Summary]
    results: list[QuestionResult]

    @property
    def name(self) -> str:
        return f"{self.config} @{self.chunk_tokens}/{self.chunk_overlap}"


def id_half(question_id: str) -> str:
    digits = re.sub(r"\D", "", question_id)
    return "odd" if digits and int(digits) % 2 else "even"


def report_for(config: str, settings: Settings, index, questions: list[GoldQuestion],
               results: list[QuestionResult]) -> ConfigReport:
    chunk_texts = [c.text for c in index.chunks]
    quotes = {q for question in questions for q in question.evidence}
    unmatched = sum(not any(quote_in(q, t) for t in chunk_texts) for q in quotes)
    kinds = sorted({r.kind for r in results})
    docs = sorted({d for r in results for d in r.docs})
    return ConfigReport(
        config=config, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap,
        chunks=len(index.chunks), unmatched_quotes=unmatched, overall=summarise(results),
        halves={h: summarise([r for r in results if id_half(r.id) == h]) for h in ("odd", "even")},
        per_kind={k: summarise([r for r in results if r.kind == k]) for k in kinds},
        per_doc={d: summarise([r for r in results if d in r.docs]) for d in docs},
        results=results,
    )


def relevant_counts(index, questions: list[GoldQuestion]) -> dict[str, int]:
    """For each question, how many chunks of the index hold evidence (the ideal ranking for nDCG)."""
    texts = [c.text for c in index.chunks]
    return {q.id: sum(holds_evidence(t, q.evidence) for t in texts) for q in questions}


def evaluation_index(settings: Settings, chunk_tokens: int, chunk_overlap: int,
                     progress: Callable[[str, int, int], None] | None = None):
    """An index of the corpus chunked as asked: the settings' own index when it matches and is up to date,
    else one built in a scratch home (under the cache folder) from a copy of the corpus."""
    from assistant.chunking import CHUNKER_VERSION
    from assistant.store import build_index, index_status, load_index, read_manifest

    manifest = read_manifest(settings.index_dir) or {}
    wanted = settings.replace(chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap)
    matches = {"chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap, "chunker_version": CHUNKER_VERSION,
               "embedding_model": settings.embedding_model}
    if all(manifest.get(k) == v for k, v in matches.items()) and not index_status(settings).stale:
        return wanted, load_index(wanted)
    home = settings.cache_dir / "eval-homes" / corpus_key(settings.corpus_dir) / f"{chunk_tokens}-{chunk_overlap}"
    corpus = home / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    shutil.copytree(settings.corpus_dir, corpus)
    scratch = wanted.replace(home=home, corpus_dir=corpus, index_dir=home / "index")
    report = build_index(scratch, progress)
    if report.failed:
        raise AssistantError(f"Building the {chunk_tokens}-token evaluation index failed for "
                             f"{', '.join(name for name, _ in report.failed)}: run `assistant index` to see why.")
    return scratch, load_index(scratch)


def corpus_key(corpus_dir: Path) -> str:
    return hashlib.sha256(str(Path(corpus_dir).resolve()).encode()).hexdigest()[:12]


def compare_retrieval(settings: Settings, questions: list[GoldQuestion], configs: list[RetrievalConfig],
                      chunk_sizes: list[tuple[int, int]], progress: Progress | None = None,
                      build_progress: Callable[[str, int, int], None] | None = None) -> list[ConfigReport]:
    """Every config on every chunking, in one run; the first config at the first chunking is the baseline."""
    from assistant.retrieval import Retriever

    progress = progress or (lambda n: None)
    reports = []
    for tokens, overlap in chunk_sizes:
        index_settings, index = evaluation_index(settings, tokens, overlap, build_progress)
        relevant = relevant_counts(index, questions)
        queries = None
        for config in configs:
            retriever = Retriever(index, index_settings.replace(**config.overrides))
            queries = queries or RememberedQueries(retriever.embedder)
            retriever.embedder = queries
            results = []
            for question in questions:
                results.append(evaluate_question(retriever, question, config.mode, relevant[question.id]))
                progress(1)
            reports.append(report_for(config.name, retriever.settings, index, questions, results))
    return reports


# --- choosing the refusal thresholds -------------------------------------------------------


@dataclass
class ThresholdPoint:
    """Refuse when the top passages' max cosine < `cosine` and their word coverage < `coverage`."""

    cosine: float
    coverage: float  # above 1: coverage is ignored (cosine alone decides)
    refused_unanswerable: float  # share of unanswerable questions refused (want high)
    refused_answerable: float  # share of answerable questions refused (want low)


@dataclass
class ThresholdAnalysis:
    cosine_answerable: list[float]
    cosine_unanswerable: list[float]
    curve: list[ThresholdPoint]  # cosine alone
    grid: list[ThresholdPoint]  # cosine and coverage together
    chosen: ThresholdPoint | None  # refuses >= 90% unanswerable with <= 5% false refusals, if any does
    best_cosine: ThresholdPoint  # the most unanswerable refused at <= 5% false refusals, cosine alone
    best: ThresholdPoint  # the same with both signals


COSINE_STEPS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.01)]
COVERAGE_STEPS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
ALONE = 2.0  # a coverage threshold no question reaches: the cosine decides alone


def refusal_thresholds(results: list[QuestionResult], target_refused: float = 0.9,
                       max_false: float = 0.05) -> ThresholdAnalysis:
    """Sweep the refusal thresholds over the questions' top passages: cosine alone, then with coverage."""
    good = [(r.max_cosine, r.coverage) for r in results if r.answerable]
    bad = [(r.max_cosine, r.coverage) for r in results if not r.answerable]

    def point(cosine: float, coverage: float) -> ThresholdPoint:
        return ThresholdPoint(cosine, coverage, share_refused(bad, cosine, coverage),
                              share_refused(good, cosine, coverage))

    curve = [point(c, ALONE) for c in COSINE_STEPS]
    grid = [point(c, v) for v in COVERAGE_STEPS for c in COSINE_STEPS]

    def best_of(points: list[ThresholdPoint]) -> ThresholdPoint:
        allowed = [p for p in points if p.refused_answerable <= max_false]
        return max(allowed, key=lambda p: (p.refused_unanswerable, -p.refused_answerable, p.cosine))

    meeting = [p for p in curve + grid
               if p.refused_unanswerable >= target_refused and p.refused_answerable <= max_false]
    chosen = min(meeting, key=lambda p: (p.refused_answerable, -p.refused_unanswerable)) if meeting else None
    return ThresholdAnalysis([g[0] for g in good], [b[0] for b in bad], curve, grid, chosen,
                             best_of(curve), best_of(grid))


def share_refused(signals: list[tuple[float, float]], cosine: float, coverage: float) -> float:
    if not signals:
        return 0.0
    return sum(c < cosine and v < coverage for c, v in signals) / len(signals)


# --- answers -------------------------------------------------------------------------------


@dataclass
class AnswerResult:
    id: str
    kind: str
    answerable: bool
    answer_kind: str
    declined: bool  # refused, or asked which council
    citations: int
    precise_citations: int  # cited passage holds an evidence quote
    right_doc_citations: int  # cited passage is from a gold document
    quotes_cited: float  # share of evidence quotes some cited passage holds
    sentences: int
    removed: int  # model sentences dropped as unsupported
    first_token: float
    total: float
    text: str
    coverage: float | None = None  # share of the question's informative words the checked sentences mention
    off_topic: int = 0  # supported model sentences left out as not about the question
    draft: str = ""  # the model's own text, before checking
    cited: list[dict] = field(default_factory=list)  # each citation's number, document, lines and quote
    drafts: list[str] = field(default_factory=list)  # every reply of the model, in order (two for a comparison)
    prompts: list[str] = field(default_factory=list)  # a digest of the prompt each reply answered


def answer_subset(questions: list[GoldQuestion], limit: int | None) -> list[GoldQuestion]:
    """All unanswerable questions, then the others taken in turn from each kind, up to `limit`."""
    if not limit or limit >= len(questions):
        return questions
    chosen = [q for q in questions if not q.answerable][:limit]
    by_kind: dict[str, list[GoldQuestion]] = {}
    for q in questions:
        if q.answerable:
            by_kind.setdefault(q.kind, []).append(q)
    while len(chosen) < limit and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < limit:
                chosen.append(by_kind[kind].pop(0))
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted(chosen, key=lambda q: order[q.id])


class RecordingModel:
    """A model wrapper that keeps every reply, so that an answer run can be re-checked later (--replay)."""

    def __init__(self, model):
        self.model = model
        self.name = model.name
        self.drafts: list[str] = []
        self.prompts: list[str] = []  # a digest of the prompt each draft answered

    def stream(self, messages, max_tokens, temperature=0.0, stop=None):
        self.prompts.append(prompt_digest(messages))
        pieces = []
        try:
            for piece in self.model.stream(messages, max_tokens, temperature, stop):
                pieces.append(piece)
                yield piece
        finally:  # a draft the assistant stopped reading is kept as far as it was read
            self.drafts.append("".join(pieces))


class ReplayModel:
    """Plays back a question's recorded replies, so that changed checks can be measured on the same drafts.
    A prompt the recorded run did not have (a new check, a changed retrieval) goes to `live`, a function
    returning the real model, if one is given; the replies given are kept, as a RecordingModel keeps them."""

    name = "replay"

    def __init__(self, recorded: dict, question_id: str, live: Callable[[], object] | None = None):
        prompts, drafts = recorded.get("prompts") or [], recorded["drafts"]
        keyed = len(prompts) >= len(drafts)
        self.by_prompt = dict(zip(prompts, drafts)) if keyed else {}
        self.in_order = [] if keyed else list(drafts)  # written before prompts were recorded
        self.question_id = question_id
        self.live = live
        self.asked_live = False  # some reply came from the model now, so the timing is today's
        self.drafts: list[str] = []
        self.prompts: list[str] = []

    def stream(self, messages, max_tokens, temperature=0.0, stop=None):
        digest = prompt_digest(messages)
        if self.in_order:
            reply = self.in_order.pop(0)
        elif digest in self.by_prompt:
            reply = self.by_prompt[digest]
        elif self.live is not None:
            reply = "".join(self.live().stream(messages, max_tokens, temperature, stop))
            self.asked_live = True
        else:
            raise AssistantError(f"{self.question_id}: the recorded run has no reply for this prompt (retrieval "
                                 "or the prompt changed since); answer the questions again without --replay.")
        self.drafts.append(reply)
        self.prompts.append(digest)
        yield reply


def prompt_digest(messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def load_replies(path: Path) -> dict[str, dict]:
    """Each question's recorded run (its replies as "drafts", and its timings) from an answers.jsonl
    written by `eval --answers`."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["drafts"] = row.get("drafts") or ([row["draft"]] if row.get("draft") else [])
            row["first_token"], row["total"] = float(row["first_token"]), float(row["total"])
        return {row["id"]: row for row in rows}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AssistantError(f"{path}: not an answers.jsonl written by `assistant eval --answers` ({e}).") from e


def evaluate_answer(assistant, question: GoldQuestion) -> AnswerResult:
    history = []
    for earlier in question.history:
        history.append(assistant.retriever.analyse(earlier, history))
    answer = assistant.ask(question.question, history)
    cited = [] if answer.refused else answer.citations
    quotes = question.evidence
    timings = answer.timings
    return AnswerResult(
        id=question.id, kind=question.kind, answerable=question.answerable, answer_kind=answer.kind,
        declined=answer.refused or answer.kind == "clarify", citations=len(cited),
        precise_citations=sum(holds_evidence(c.text, quotes) for c in cited),
        right_doc_citations=sum(c.doc_id in question.docs for c in cited),
        quotes_cited=evidence_recall(quotes, [c.text for c in cited]) if quotes else 0.0,
        sentences=len(answer.sentences), removed=len(answer.removed), off_topic=len(answer.off_topic),
        first_token=timings.get("first_token", 0.0),
        total=timings.get("total", 0.0) - timings.get("model_load", 0.0),
        text=answer.text, coverage=answer.coverage, draft=answer.raw,
        cited=[{"n": c.n, "doc_id": c.doc_id, "lines": [c.line_start, c.line_end], "quote": c.quote} for c in cited],
    )


@dataclass
class AnswerSummary:
    questions: int
    unanswerable: int
    refused_unanswerable: float
    answerable: int  # answerable and not ambiguous
    false_refusals: float
    ambiguous: int
    clarified_ambiguous: float
    citation_precision: float
    answered_without_evidence: float  # answered answerable questions none of whose citations holds an evidence quote
    citation_right_doc: float
    citation_recall: float
    removed_sentence_rate: float  # share of the model's sentences no passage supported
    off_topic_sentence_rate: float  # share of the model's sentences left out as not about the question
    first_token_s: tuple[float, float]
    total_s: tuple[float, float]


def summarise_answers(results: list[AnswerResult]) -> AnswerSummary:
    def share(part: int | float, whole: int) -> float:
        return part / whole if whole else 0.0

    unanswerable = [r for r in results if not r.answerable]
    ambiguous = [r for r in results if r.answerable and r.kind == "ambiguous"]
    answerable = [r for r in results if r.answerable and r.kind != "ambiguous"]
    answered = [r for r in answerable if not r.declined]
    citations = sum(r.citations for r in answered)
    sentences = sum(r.sentences + r.removed + r.off_topic for r in results)
    generated = [r for r in results if r.first_token > 0]
    return AnswerSummary(
        questions=len(results),
        unanswerable=len(unanswerable),
        refused_unanswerable=share(sum(r.declined for r in unanswerable), len(unanswerable)),
        answerable=len(answerable),
        false_refusals=share(sum(r.declined for r in answerable), len(answerable)),
        ambiguous=len(ambiguous),
        clarified_ambiguous=share(sum(r.answer_kind == "clarify" for r in ambiguous), len(ambiguous)),
        citation_precision=share(sum(r.precise_citations for r in answered), citations),
        answered_without_evidence=share(sum(r.precise_citations == 0 for r in answered), len(answered)),
        citation_right_doc=share(sum(r.right_doc_citations for r in answered), citations),
        citation_recall=share(sum(r.quotes_cited for r in answered), len(answered)),
        removed_sentence_rate=share(sum(r.removed for r in results), sentences),
        off_topic_sentence_rate=share(sum(r.off_topic for r in results), sentences),
        first_token_s=(percentile([r.first_token for r in generated], 50),
                       percentile([r.first_token for r in generated], 95)),
        total_s=(percentile([r.total for r in results], 50), percentile([r.total for r in results], 95)),
    )


def evaluate_answers(settings: Settings, questions: list[GoldQuestion], progress: Progress | None = None,
                     replies: dict[str, dict] | None = None) -> list[AnswerResult]:
    """Answer and score each question; with `replies` (from load_replies), re-check recorded replies
    instead of asking the model, which measures a change to the checks in seconds."""
    from assistant.answer import Assistant
    from assistant.models import load_model
    from assistant.retrieval import Retriever

    retriever = Retriever.from_settings(settings)

    def live():
        return load_model(settings.model, settings)

    if replies is None:
        live()  # loaded before the clock runs
    results = []
    for question in questions:
        recorded = replies.get(question.id) if replies else None
        runner = ReplayModel(recorded, question.id, live) if recorded else RecordingModel(live())
        result = evaluate_answer(Assistant(settings, retriever, runner), question)
        result.drafts, result.prompts = list(runner.drafts), list(runner.prompts)
        if recorded and not runner.asked_live:  # the time the model took when it wrote these replies
            result.first_token, result.total = recorded["first_token"], recorded["total"]
        results.append(result)
        (progress or (lambda n: None))(1)
    return results


# --- BEIR benchmark ------------------------------------------------------------------------


PUBLISHED_SCIFACT = {
    "BM25, Anserini title+text (k1=0.9 b=0.4)": (0.679, 0.925),
    "BM25, BEIR paper (multifield)": (0.665, 0.908),
    "BM25 + cross-encoder (BEIR paper)": (0.688, 0.908),
    "all-MiniLM-L6-v2 (MTEB)": (0.645, 0.925),
    "bge-small-en-v1.5 (MTEB)": (0.713, 0.945),
}


@dataclass
class BeirData:
    ids: list[str]
    texts: list[str]  # title and text as one field
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]  # split -> query id -> doc id -> relevance


def load_beir(folder: Path) -> BeirData:
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels"):
        if not (folder / name).exists():
            raise AssistantError(f"{folder} is not a BEIR dataset folder (no {name}): give the folder holding "
                                 "corpus.jsonl, queries.jsonl and qrels/.")
    ids, texts = [], []
    for line in open(folder / "corpus.jsonl", encoding="utf-8"):
        row = json.loads(line)
        ids.append(str(row["_id"]))
        texts.append(f"{row.get('title', '')} {row.get('text', '')}".strip())
    queries = {str(r["_id"]): r["text"] for r in map(json.loads, open(folder / "queries.jsonl", encoding="utf-8"))}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for path in sorted((folder / "qrels").glob("*.tsv")):
        split = qrels.setdefault(path.stem, {})
        for n, line in enumerate(open(path, encoding="utf-8")):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            split.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return BeirData(ids, texts, queries, qrels)


def beir_ndcg(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    gains = [qrels.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(qrels.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def beir_recall(ranked: list[str], qrels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


Ranking = dict[str, list[tuple[str, float]]]  # query id -> (doc id, score), best first


def beir_scores(rankings: Ranking, qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    """Mean nDCG@10 and Recall@100 over the judged queries."""
    ranked = {q: [doc for doc, _ in rankings.get(q, [])] for q in qrels}
    return (float(np.mean([beir_ndcg(ranked[q], qrels[q]) for q in qrels])),
            float(np.mean([beir_recall(ranked[q], qrels[q]) for q in qrels])))


def bm25_rankings(data: BeirData, query_ids: list[str], tokenizer: Callable[[str], list[str]],
                  k1: float = 0.9, b: float = 0.4, depth: int = 1000) -> Ranking:
    import bm25s

    model = bm25s.BM25(k1=k1, b=b)
    model.index([tokenizer(t) or ["empty"] for t in data.texts], show_progress=False)
    rankings = {}
    for q in query_ids:
        scores = model.get_scores(tokenizer(data.queries[q]))
        top = np.argsort(-scores, kind="stable")[:depth]
        rankings[q] = [(data.ids[i], float(scores[i])) for i in top if scores[i] > 0]
    return rankings


def lucene_tokenize(text: str) -> list[str]:
    """An approximation of Lucene's EnglishAnalyzer (what Anserini uses): word tokens, possessives
    dropped, Lucene's 33 stopwords, Porter stemming."""
    tokens = [re.sub(r"['’]s$", "", t) for t in re.findall(r"\w+(?:['’.]\w+)*", text.lower())]
    return _porter().stemWords([t for t in tokens if t not in LUCENE_STOPWORDS])


LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)


@lru_cache(maxsize=1)
def _porter():
    import Stemmer

    return Stemmer.Stemmer("porter")


def cached_vectors(settings: Settings, texts: list[str], label: str,
                   progress: Progress | None = None) -> np.ndarray:
    """Embeddings of texts, cached under cache_dir/beir/ by model fingerprint and text content."""
    from assistant.embedding import get_embedder

    embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
    digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
    path = settings.cache_dir / "beir" / f"{label}-{embedder.fingerprint}-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.encode(texts, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def dense_rankings(data: BeirData, query_ids: list[str], doc_vectors: np.ndarray, query_vectors: np.ndarray,
                   depth: int = 1000) -> Ranking:
    scores = query_vectors @ doc_vectors.T
    rankings = {}
    for row, q in enumerate(query_ids):
        top = np.argsort(-scores[row], kind="stable")[:depth]
        rankings[q] = [(data.ids[i], float(scores[row, i])) for i in top]
    return rankings


def fuse_rankings(rankings: list[Ranking], weights: list[float], method: str = "rrf", rrf_k: float = 60,
                  depth: int = 100) -> Ranking:
    """Per query, each ranking cut to `depth` and combined like the app does: weighted reciprocal rank
    ("rrf"), or weighted scores min-max scaled within each ranking ("scores")."""
    fused: Ranking = {}
    for q in rankings[0]:
        scores: dict[str, float] = {}
        for ranking, weight in zip(rankings, weights):
            top = ranking.get(q, [])[:depth]
            if not top:
                continue
            high, low = top[0][1], top[-1][1]
            for rank, (doc, score) in enumerate(top):
                value = 1.0 / (rrf_k + rank + 1) if method == "rrf" else (score - low) / ((high - low) or 1.0)
                scores[doc] = scores.get(doc, 0.0) + weight * value
        fused[q] = sorted(scores.items(), key=lambda item: -item[1])
    return fused


@dataclass
class BeirRow:
    system: str
    ndcg10: float
    recall100: float
    note: str = ""


@dataclass
class BeirReport:
    rows: list[BeirRow]
    tuned: dict[str, dict]  # fusion method -> best settings on the train split
    tuning: list[dict]  # the train-split grid


def tune_fusion(dense: Ranking, lexical: Ranking, qrels: dict[str, dict[str, int]]) -> list[dict]:
    """nDCG@10 of every fusion setting in a small grid, on the queries of `qrels` (the train split)."""
    dense = {q: dense[q] for q in qrels}
    lexical = {q: lexical[q] for q in qrels}
    grid = [("rrf", k, w) for k in (5, 10, 20, 40, 60, 100) for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)]
    grid += [("scores", 0, w) for w in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)]
    return [{"fusion": method, "rrf_k": k, "dense_weight": w, "lexical_weight": 1.0,
             "train_ndcg10": beir_scores(fuse_rankings([dense, lexical], [w, 1.0], method, k), qrels)[0]}
            for method, k, w in grid]


def run_beir(folder: Path, settings: Settings, progress: Progress | None = None) -> BeirReport:
    """BM25, dense and fused retrieval on a BEIR dataset; fusion tuned on train, everything scored on test."""
    from assistant.retrieval import tokenize

    data = load_beir(folder)
    if "test" not in data.qrels:
        raise AssistantError(f"{folder}/qrels has no test.tsv: the benchmark is reported on the test split.")
    test_qrels = data.qrels["test"]
    train_qrels = data.qrels.get("train", {})
    judged = list(test_qrels) + [q for q in train_qrels if q not in test_qrels]
    rows: list[BeirRow] = []

    lexical = {}
    for name, tokenizer in (("ours", tokenize), ("lucene-like", lucene_tokenize)):
        lexical[name] = bm25_rankings(data, judged, tokenizer)
        rows.append(BeirRow(f"BM25 k1=0.9 b=0.4, {name} tokenizer", *beir_scores(lexical[name], test_qrels),
                            "title+text as one field, bm25s"))
    rows.append(BeirRow("BM25 k1=1.2 b=0.75, ours (the app's BM25)",
                        *beir_scores(bm25_rankings(data, list(test_qrels), tokenize, 1.2, 0.75), test_qrels)))

    doc_vectors = cached_vectors(settings, data.texts, "corpus", progress)
    query_vectors = cached_vectors(settings, [data.queries[q] for q in judged], "queries")
    dense = dense_rankings(data, judged, doc_vectors, query_vectors)
    rows.append(BeirRow(f"dense {Path(settings.embedding_model).name}", *beir_scores(dense, test_qrels)))

    ours = lexical["ours"]
    for method in ("rrf", "scores"):
        fused = fuse_rankings([dense, ours], [1.0, 1.0], method, 60)
        rows.append(BeirRow(f"hybrid {method}" + (" k=60" if method == "rrf" else "") + ", weights 1:1",
                            *beir_scores(fused, test_qrels), "untuned"))
    tuning = tune_fusion(dense, ours, train_qrels) if train_qrels else []
    tuned = {}
    for method in ("rrf", "scores"):
        candidates = [t for t in tuning if t["fusion"] == method]
        if not candidates:
            continue
        best = tuned[method] = max(candidates, key=lambda t: t["train_ndcg10"])
        fused = fuse_rankings([dense, ours], [best["dense_weight"], 1.0], method, best["rrf_k"])
        label = f"hybrid {method}" + (f" k={best['rrf_k']}" if method == "rrf" else "")
        rows.append(BeirRow(f"{label}, dense weight {best['dense_weight']:g} (tuned on train)",
                            *beir_scores(fused, test_qrels), f"train nDCG@10 {best['train_ndcg10']:.3f}"))
    return BeirReport(rows, tuned, tuning)


# --- rendering -----------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def comparison_table(reports: list[ConfigReport]) -> str:
    head = (["config", "chunks", "R@1", "R@3", "R@5", "R@10", "MRR", "nDCG@10"]
            + [f"R@{b}tok" for b in TOKEN_BUDGETS]
            + ["wrong council", "embed p50/p95 ms", "search p50/p95 ms", "quotes in no chunk"])
    lines = [row(head), row(["---"] * len(head))]
    for r in reports:
        s = r.overall
        embed, search = s.latency_ms.get("embed", (0, 0)), s.latency_ms.get("search", (0, 0))
        lines.append(row([r.name, str(r.chunks), *(fmt(s.recall[k]) for k in RECALL_KS), fmt(s.mrr), fmt(s.ndcg),
                          *(fmt(s.budget_recall[b]) for b in TOKEN_BUDGETS), pct(s.wrong_council),
                          f"{embed[0]:.0f} / {embed[1]:.0f}", f"{search[0]:.0f} / {search[1]:.0f}",
                          str(r.unmatched_quotes)]))
    return "\n".join(lines)


def halves_table(reports: list[ConfigReport]) -> str:
    head = ["config", "R@5 odd (tune)", "R@5 even (held out)", "MRR odd", "MRR even", "wrong council odd",
            "wrong council even"]
    lines = [row(head), row(["---"] * len(head))]
    for r in reports:
        odd, even = r.halves["odd"], r.halves["even"]
        lines.append(row([r.name, fmt(odd.recall[5]), fmt(even.recall[5]), fmt(odd.mrr), fmt(even.mrr),
                          pct(odd.wrong_council), pct(even.wrong_council)]))
    return "\n".join(lines)


def breakdown_table(groups: dict[str, Summary], label: str) -> str:
    head = [label, "questions", "R@1", "R@5", "R@10", "MRR", "nDCG@10", "R@1000tok", "wrong council"]
    lines = [row(head), row(["---"] * len(head))]
    for name, s in groups.items():
        if s.questions:
            lines.append(row([name, str(s.questions), fmt(s.recall[1]), fmt(s.recall[5]), fmt(s.recall[10]),
                              fmt(s.mrr), fmt(s.ndcg), fmt(s.budget_recall[1000]), pct(s.wrong_council)]))
    return "\n".join(lines)


def misses_table(report: ConfigReport, questions: list[GoldQuestion]) -> str:
    """Questions whose evidence is not all in the top 5: where to look next."""
    by_id = {q.id: q for q in questions}
    lines = [row(["id", "kind", "R@5", "RR", "question"]), row(["---"] * 5)]
    for r in report.results:
        if r.answerable and (r.recall[5] < 1 or r.rr < 0.5):
            lines.append(row([r.id, r.kind, fmt(r.recall[5], 2), fmt(r.rr, 2), by_id[r.id].question]))
    return "\n".join(lines)


def threshold_table(analysis: ThresholdAnalysis, current: tuple[float, float] | None = None) -> str:
    """Cosine alone at a few thresholds, then the best points with both signals."""
    lines = [row(["max cosine below", "and coverage below", "unanswerable refused", "answerable refused"]),
             row(["---"] * 4)]
    shown = {round(x, 2) for x in np.arange(0.2, 0.71, 0.05)}
    marked = [analysis.best_cosine, analysis.best] + ([analysis.chosen] if analysis.chosen else [])
    if current:
        marked += [p for p in analysis.grid if (p.cosine, p.coverage) == current]
    for p in analysis.curve:
        if round(p.cosine, 2) in shown or p in marked:
            lines.append(threshold_row(p, p in marked))
    for coverage in COVERAGE_STEPS:
        points = [p for p in analysis.grid if p.coverage == coverage and p.refused_answerable <= 0.05]
        if points:
            top = max(points, key=lambda p: (p.refused_unanswerable, -p.refused_answerable, p.cosine))
            lines.append(threshold_row(top, top in marked))
    for p in marked:
        if p.coverage <= 1 and not any(line == threshold_row(p, True) for line in lines):
            lines.append(threshold_row(p, True))
    return "\n".join(lines)


def threshold_row(p: ThresholdPoint, marked: bool) -> str:
    cells = [f"{p.cosine:.2f}", "(ignored)" if p.coverage > 1 else f"{p.coverage:.1f}",
             pct(p.refused_unanswerable), pct(p.refused_answerable)]
    return row([f"**{c}**" for c in cells] if marked else cells)


def answers_table(summary: AnswerSummary) -> str:
    s = summary
    items = [
        ("questions run", str(s.questions)),
        ("unanswerable refused (or clarified)", f"{pct(s.refused_unanswerable)} of {s.unanswerable}"),
        ("answerable falsely refused", f"{pct(s.false_refusals)} of {s.answerable}"),
        ("ambiguous: asked which council", f"{pct(s.clarified_ambiguous)} of {s.ambiguous}"),
        ("citation precision (cited passage holds evidence)", pct(s.citation_precision)),
        ("answered, but no cited passage holds the evidence", pct(s.answered_without_evidence)),
        ("citation precision, lax (cited passage from the right document)", pct(s.citation_right_doc)),
        ("citation recall (evidence quotes covered by citations)", pct(s.citation_recall)),
        ("model sentences removed as unsupported", pct(s.removed_sentence_rate)),
        ("model sentences left out as not about the question", pct(s.off_topic_sentence_rate)),
        ("first token p50 / p95 (s)", f"{s.first_token_s[0]:.1f} / {s.first_token_s[1]:.1f}"),
        ("total p50 / p95 (s)", f"{s.total_s[0]:.1f} / {s.total_s[1]:.1f}"),
    ]
    return "\n".join([row(["metric", "value"]), row(["---", "---"]), *(row(list(i)) for i in items)])


def beir_table(report: BeirReport) -> str:
    lines = [row(["system", "nDCG@10", "Recall@100", "note"]), row(["---"] * 4)]
    for r in report.rows:
        lines.append(row([r.system, fmt(r.ndcg10), fmt(r.recall100), r.note]))
    for name, (n, rec) in PUBLISHED_SCIFACT.items():
        lines.append(row([f"published: {name}", fmt(n), fmt(rec), "README"]))
    return "\n".join(lines)


def retrieval_markdown(reports: list[ConfigReport], questions: list[GoldQuestion],
                       analysis: ThresholdAnalysis | None) -> str:
    base = reports[0]
    parts = [
        f"## Retrieval on {len(questions)} questions ({base.overall.questions} answerable)\n",
        comparison_table(reports),
        "\nR@k: share of evidence quotes in the top k passages; R@Ntok: within the first N tokens of retrieved "
        "text; wrong council: share of top-5 passages from a council the question did not name.\n",
        "### Tuning half (odd ids) and held-out half (even ids)\n",
        halves_table(reports),
        f"\n### Per kind ({base.name})\n",
        breakdown_table(base.per_kind, "kind"),
        f"\n### Per document ({base.name})\n",
        breakdown_table(base.per_doc, "document"),
        f"\n### Misses ({base.name}): evidence not all in the top 5, or first hit below rank 2\n",
        misses_table(base, questions),
    ]
    if analysis:
        a = analysis
        chosen = (f"max cosine < {a.chosen.cosine:.2f} and coverage < {a.chosen.coverage:.1f}" if a.chosen
                  else "none meets both targets")
        parts += [
            f"\n### Refusal thresholds ({base.name})\n",
            "Signals of the top passages the answer step sees: their best cosine to the question, and their "
            "coverage (share of the question's informative words, weighted by rarity, that they hold). "
            "A question is refused when both are below their thresholds.\n",
            f"Max cosine, answerable: min {min(a.cosine_answerable, default=0):.3f}, "
            f"p5 {percentile(a.cosine_answerable, 5):.3f}, median {percentile(a.cosine_answerable, 50):.3f}; "
            f"unanswerable: min {min(a.cosine_unanswerable, default=0):.3f}, median "
            f"{percentile(a.cosine_unanswerable, 50):.3f}, max {max(a.cosine_unanswerable, default=0):.3f}.\n",
            f"Refusing >= 90% of unanswerable questions with <= 5% false refusals: {chosen}. "
            f"Best at <= 5% false refusals: cosine alone {a.best_cosine.cosine:.2f} refuses "
            f"{pct(a.best_cosine.refused_unanswerable)}; with coverage (cosine < {a.best.cosine:.2f} and coverage < "
            f"{a.best.coverage:.1f}) {pct(a.best.refused_unanswerable)} of unanswerable, "
            f"{pct(a.best.refused_answerable)} of answerable.\n",
            threshold_table(a, current_thresholds()),
        ]
    return "\n".join(parts) + "\n"


def current_thresholds() -> tuple[float, float] | None:
    """The answer step's (MIN_RELEVANCE, MIN_COVERAGE), to mark them in the table."""
    from assistant import answer

    cosine, coverage = getattr(answer, "MIN_RELEVANCE", None), getattr(answer, "MIN_COVERAGE", None)
    return (cosine, coverage) if cosine is not None and coverage is not None else None


def plot_recall(reports: list[ConfigReport], path: Path) -> Path:
    """Recall@k and recall within a token budget, one line per config."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in reports:
        left.plot(RECALL_KS, [r.overall.recall[k] for k in RECALL_KS], marker="o", label=r.name)
        right.plot(TOKEN_BUDGETS, [r.overall.budget_recall[b] for b in TOKEN_BUDGETS], marker="o", label=r.name)
    left.set(xlabel="k passages", ylabel="evidence recall", title="Evidence recall@k", xticks=RECALL_KS)
    right.set(xlabel="tokens of retrieved text", ylabel="evidence recall", title="Recall within a token budget",
              xticks=TOKEN_BUDGETS)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1.02)
    left.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def as_json(value) -> object:
    """Dataclasses and tuples as plain JSON values."""
    if hasattr(value, "__dataclass_fields__"):
        return as_json(asdict(value))
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


def row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
