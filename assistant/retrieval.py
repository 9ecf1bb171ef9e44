"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank, with filters."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

import numpy as np

from assistant.chunking import Chunk
from assistant.config import Settings
from assistant.embedding import get_embedder
from assistant.scope import (
    COMPARISON, EXPECTS, THEME_NAMES, THEMES, Council, Scope, analyse, build_councils, strip_councils, topic,
    without_kinds,
)
from assistant.store import DocumentRecord, Index, load_index

TOKEN = re.compile(r"[a-z0-9]+(?:[.,/][0-9]+)*")
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i in into is it its "
    "me my of on or our s say said says should so than that the their them then there these they this those "
    "to was we were what when where which who whom why will with would you your about tell while whilst "
    "during upon via re ve ll d m t".split()
)
# "doesn't" (or "doesnt", as people type) is "does not": otherwise "doesn" and "t", words no report uses,
# weigh most in the question.
CONTRACTION = re.compile(r"\b(?:(ca)n'?t|(wo)n'?t|(\w+)n't|(do|does|did|is|was|are|were|has|have|had|could|should|"
                         r"would|must|need)nt)\b")
# Words the reports write as one ("onsite") and questions often as two ("on site").
COMPOUND = re.compile(r"\bon[- ]site\b")
# A section of an Act, as reports and users shorten it: "S.75 agreements", "s75", "s. 151 officer".
SECTION = re.compile(r"(?<!')\bs\.?\s?(\d{2,3})\b")  # not the possessive in "council's 50 pledges"
MODES = ("hybrid", "dense", "lexical")
QUESTION_WORDS = frozenset(
    "peer peers team say said council councils report reports think thought find found tell list "
    "mention mentioned describe according much many".split()
)
# "IT" in capitals is information technology, which reports also call ICT, not the stop word "it".
INFORMATION_TECHNOLOGY = re.compile(r"\bIT\b")
# Words that, in a question asking for the peers' verdict (VERDICT in scope.py), name the verdict, not a topic.
VERDICT_WORDS = frozenset(
    "summary summarise summarize overall verdict conclusions findings strength strengths weakness "
    "weaknesses praise praised positives negatives criticisms criticism criticised criticized wrong main key "
    "review challenge corporate lga give".split()
)


@lru_cache(maxsize=1)
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


KINDS_OF_BODY = frozenset(stemmer().stemWords(
    "plan plans strategy strategies committee committees board boards panel group team programme program "
    "partnership partnerships service services department directorate policy framework officer report review "
    "scheme fund project unit forum system".split()))
# Where one sentence ends and the next begins, in report text and in answers. A list item is a statement
# of its own, though the reports seldom end one with a stop: "…sickness absence data\n- The approach to
# health and safety…" is two.
SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\s*\n(?=\s*[-•*–]\s)")
# Small words an acronym's initials skip: "Sustainability and Transformation Plan (STP)".
SKIPPED_BY_INITIALS = r"\s+(?:(?:and|of|for|the|&)\s+)?"
# Words this long or longer are read for misspellings (Retriever.respell); from LONG_WORD letters, two slips.
SPELLED_LENGTH = 6
LONG_WORD = 9
# How much of a passage's score is lost when all of it is template text (see template_runs).
TEMPLATE_PENALTY = 0.5
# A sentence is template text when this share of its five-word runs is.
TEMPLATE_OVERLAP = 0.8
# A word in at most this many passages singles out the few that hold it.
RARE_IN_PASSAGES = 3


def uncontracted(m: re.Match) -> str:
    """"can not" for "can't", "will not" for "won't", "does not" for "doesn't" or "doesnt"."""
    return f"{'can' if m[1] else 'will' if m[2] else m[3] or m[4]} not"


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed words and numbers; '£135m' gives '135m', 'Section 24' gives 'section', '24'."""
    text = INFORMATION_TECHNOLOGY.sub("ict", text)
    text = CONTRACTION.sub(uncontracted, COMPOUND.sub("onsite", text.lower().replace("’", "'")))
    text = SECTION.sub(r"section \1", text)
    words = [w for w in TOKEN.findall(text) if w not in STOPWORDS]
    # Snowball leaves "stability" as "stabil" but "stable" as "stabl" (and "capability", "capable" both as
    # "capabl"): one stem for the two. "Cllr" is how "Councillor" is shortened, in reports and answers alike.
    return ["councillor" if w in ("cllr", "cllrs") else w[:-3] + "bl" if w.endswith("bil") else w
            for w in stemmer().stemWords(words)]


def word_runs(text: str) -> set[tuple[str, ...]]:
    """Every run of five consecutive words (stemmed, stop words left out) in the text."""
    words = tokenize(text)
    return {tuple(words[i:i + 5]) for i in range(len(words) - 4)}


def mentions(text: str, name: str) -> bool:
    """Whether the text holds the name's words (stemmed, stop words left out) one after another."""
    words = " ".join(tokenize(name))
    return bool(words) and f" {words} " in f" {' '.join(tokenize(text))} "


def name_forms(name: str) -> list[str]:
    """The ways a text may mention a name, as stemmed words in a row: the name itself; without its last
    word when that word says what kind of body or document it is (the reports' "Medium Term Financial
    Strategy" for a question's "Medium Term Financial Plan", "scrutiny" for a "Scrutiny Committee");
    and its initials ("CMT" for "Corporate Management Team")."""
    words = tokenize(name)
    forms = [" ".join(words)]
    if len(words) > 1 and words[-1] in KINDS_OF_BODY:
        forms.append(" ".join(words[:-1]))
    initials = "".join(w[0] for w in re.findall(r"[A-Z][\w'’-]*", name))
    if len(initials) > 1:
        forms.append(initials.lower())
    return [form for form in forms if form]


def template_runs(documents: Iterable[DocumentRecord]) -> set[tuple[str, ...]]:
    """The five-word runs found in reports on more than one council: the LGA's template (the five
    questions every peer challenge considers, how the process works, the next steps), not a finding
    about any council. Template text matches every question on a theme, and a small model then states
    the template's questions as findings."""
    councils: dict[tuple[str, ...], set[str]] = {}
    for doc in documents:
        for run in word_runs(doc.text):
            councils.setdefault(run, set()).add(doc.council)
    return {run for run, found in councils.items() if len(found) > 1}


def is_template(sentence: str, template: set[tuple[str, ...]]) -> bool:
    """Whether most of the sentence is template text. A template sentence with its own figure in it
    ("spoke to more than 160 people") is not."""
    runs = word_runs(sentence)
    return bool(runs) and len(runs & template) >= TEMPLATE_OVERLAP * len(runs)


def template_share(text: str, template: set[tuple[str, ...]]) -> float:
    """The share of the text, by characters, in template sentences."""
    sentences = [s for s in SENTENCE_BREAK.split(text) if s.strip()]
    total = sum(len(s) for s in sentences) or 1
    return sum(len(s) for s in sentences if is_template(s, template)) / total


@dataclass
class Filters:
    councils: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # words of the section heading, e.g. "executive summary"

    def admits(self, chunk: Chunk) -> bool:
        return (
            (not self.councils or chunk.council in self.councils)
            and (not self.kinds or chunk.kind in self.kinds)
            and (not self.years or chunk.year in self.years)
            and (not self.doc_ids or chunk.doc_id in self.doc_ids)
            and (not self.sections or any(s in chunk.section.lower() for s in self.sections))
        )

    def __bool__(self) -> bool:
        return bool(self.councils or self.kinds or self.years or self.doc_ids or self.sections)


@dataclass
class Passage:
    """A retrieved chunk with its scores; `n` is its number in a prompt or answer."""

    chunk: Chunk
    score: float  # fused score
    rank: int
    dense: float | None = None  # cosine similarity to the query
    lexical: float | None = None  # BM25 score
    n: int = 0


class Retriever:
    """Searches one loaded index. Thread-safe for concurrent queries."""

    def __init__(self, index: Index, settings: Settings):
        import bm25s

        self.index = index
        self.settings = settings
        self.embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75)
        corpus_tokens = [tokenize(c.embedding_text()) for c in index.chunks]
        self.bm25.index(corpus_tokens or [["empty"]], show_progress=False)
        self.doc_freq: dict[str, int] = {}
        for tokens in corpus_tokens:
            for token in set(tokens):
                self.doc_freq[token] = self.doc_freq.get(token, 0) + 1
        # Stemmed once here: question_terms runs for every sentence a second try weighs.
        self.question_stems = set(tokenize(" ".join(QUESTION_WORDS)))
        self.verdict_stems = set(tokenize(" ".join(VERDICT_WORDS)))
        # Each theme-naming word (stemmed) with the words of its theme: see text_coverage.
        self.theme_words = {tokenize(name)[0]: set(tokenize(" ".join(THEMES[theme])))
                            for name, theme in THEME_NAMES.items()}
        self.template = template_runs(index.documents.values())
        self.template_share = np.array([template_share(c.text, self.template) for c in index.chunks])
        texts: dict[str, str] = {}
        for doc in index.documents.values():
            texts[doc.council] = texts.get(doc.council, "") + "\n" + doc.text
        self.councils: list[Council] = build_councils(texts, texts)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Retriever":
        return cls(load_index(settings), settings)

    def analyse(self, question: str, history: list[Scope] | None = None) -> Scope:
        """The question's scope, with misspelt words read as the reports' words (shown as "read as")."""
        scope = analyse(self.respell(question), self.councils, history)
        scope.question = question
        return scope

    @cached_property
    def vocabulary(self) -> dict[str, frozenset[str]]:
        """The words of the indexed documents in lower case, by first letter."""
        by_letter: dict[str, set[str]] = {}
        for doc in self.index.documents.values():
            for word in re.findall(r"[a-z]+", doc.text.lower()):
                by_letter.setdefault(word[0], set()).add(word)
        return {letter: frozenset(words) for letter, words in by_letter.items()}

    def respell(self, question: str) -> str:
        """The question with each word that looks misspelt given as the report word it is one slip from
        ("grievences" as "grievances"). A word looks misspelt when the reports never use it, the embedding
        model does not know it whole (so not "flooding" for "flooring"), and it has SPELLED_LENGTH letters
        or more ("trams" is not "teams"). The report word starts with the same letter and is the only one
        that near: one edit away (a letter added, dropped, changed, or two swapped: "saftey"), two for
        words of LONG_WORD letters."""
        from rapidfuzz import distance, process

        def respelt(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            known = self.vocabulary.get(lower[0], frozenset())
            if word.isupper() or lower in known or lower in self.embedder.whole_words:
                return word
            # Optimal string alignment: two letters swapped ("saftey") is one slip, not two.
            found = process.extract(lower, known, scorer=distance.OSA.distance, limit=2,
                                    score_cutoff=2 if len(lower) >= LONG_WORD else 1)
            if (not found or (len(found) == 2 and found[1][1] == found[0][1])
                    or tokenize(found[0][0]) == tokenize(lower)):
                return word  # none; two as near ("committe": committee or committed?); or the same stem
            return found[0][0].capitalize() if word[0].isupper() else found[0][0]

        return re.sub(rf"[A-Za-z]{{{SPELLED_LENGTH},}}", respelt, question)

    @cached_property
    def document_words(self) -> dict[str, str]:
        """Each document's text as its stemmed words, space-separated, for finding a name's words in a row."""
        return {doc_id: f" {' '.join(tokenize(doc.text))} " for doc_id, doc in self.index.documents.items()}

    def mentioning(self, name: str, loosely: bool = True) -> list[DocumentRecord]:
        """The documents mentioning the name ("Director of Public Health", "HS2"), in any of its forms
        (name_forms), or only as the name itself."""
        forms = name_forms(name) if loosely else name_forms(name)[:1]
        return [self.index.documents[doc_id] for doc_id, text in self.document_words.items()
                if any(f" {form} " in text for form in forms)]

    def allowed_positions(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        return np.array([i for i, c in enumerate(self.index.chunks) if filters.admits(c)], dtype="int64")


    def lexical_ranking(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        tokens = tokenize(query)
        if not tokens or not self.index.chunks:
            return []
        with self._lock:
            scores = self.bm25.get_scores(tokens)
        if allowed is not None:
            mask = np.full(len(scores), -np.inf)
            mask[allowed] = 0
            scores = scores + mask
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def search(self, query: str, k: int | None = None, filters: Filters | None = None,
               mode: str = "hybrid", lexical_query: str | None = None) -> list[Passage]:
        """The k best passages for the query among those the filters admit."""
        k = k or self.settings.top_k
        pool = max(self.settings.candidates, k)
        allowed = self.allowed_positions(filters)
        query_vector = self.embedder.encode_query(query) if mode in ("hybrid", "dense") else None
        dense = self.index.search_dense(query_vector, pool, allowed) if query_vector is not None else []
        lexical = self.lexical_ranking(lexical_query or query, pool, allowed) if mode in ("hybrid", "lexical") else []
        fused = {p: score * (1 - TEMPLATE_PENALTY * self.template_share[p] ** 2)
                 for p, score in fuse(dense, lexical, self.settings).items()}
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        if mode == "hybrid" and dense and len(dense_scores) < len(fused):
            # Every candidate gets a cosine, so refusal and verification can rely on it.
            missing = [p for p in fused if p not in dense_scores]
            for pos, score in zip(missing, self.index.vectors[missing] @ query_vector):
                dense_scores[pos] = float(score)
        best = sorted(fused, key=lambda p: -fused[p])[:k]
        return [
            Passage(self.index.chunks[p], fused[p], rank, dense_scores.get(p), lexical_scores.get(p), n=rank + 1)
            for rank, p in enumerate(best)
        ]

    def is_template(self, sentence: str, question: str) -> bool:
        """Whether the sentence is template text (template_runs) that the question does not single out
        by a word found in few passages: "Who is the LGA Principal Adviser?" needs the template's "Mark
        Edgell, Principal Adviser is the main contact", a question on governance does not need the
        template's question on governance."""
        if not is_template(sentence, self.template):
            return False
        shared = set(tokenize(sentence)) & set(tokenize(question))
        return not any(self.doc_freq.get(t, 0) <= RARE_IN_PASSAGES for t in shared)

    def context(self, chunk: Chunk, chars: int = 600) -> str:
        """The chunk with its document's title and section and the text just around it: a list's heading
        or the sentence a passage starts in the middle of."""
        doc = self.index.documents.get(chunk.doc_id)
        text = doc.text[max(0, chunk.start - chars):chunk.end + chars] if doc else chunk.text
        return replace(chunk, text=text).embedding_text()

    def question_terms(self, scope: Scope) -> dict[str, float]:
        """The question's informative words (stemmed), each weighted by its rarity in the index.

        Words every question about these reports uses (peers, council, say…), the council names and
        document kinds ("press release") the filter already enforces, and the words that make a question
        a comparison don't count."""
        query = self.without_councils(scope, topic(scope.query))
        if scope.expects:  # "What share of…", "What were the dates of…" say what kind of answer, not about what
            query = dict(EXPECTS)[scope.expects].sub(" ", query, count=1)
        query = without_kinds(query, scope.kinds)
        if scope.comparison:
            query = COMPARISON.sub(" ", query)
        ignored = self.question_stems | (self.verdict_stems if scope.verdict else set())
        total = len(self.index.chunks) + 1
        return {t: float(np.log(total / (self.doc_freq.get(t, 0) + 0.5)))
                for t in tokenize(query) if t not in ignored}

    def councils_of(self, scope: Scope) -> list[Council]:
        """The councils the question is about, with their aliases."""
        return [c for c in self.councils if c.name in scope.councils]

    def without_councils(self, scope: Scope, text: str | None = None) -> str:
        """The question (or another text) without the names of the councils the question is about (the
        filter enforces those)."""
        return strip_councils(scope.query if text is None else text, self.councils_of(scope))

    def coverage(self, scope: Scope, passages: list[Passage]) -> float:
        """Share of the question's informative words (weighted by rarity) that the passages contain.
        A low value means the passages are about something else."""
        return self.text_coverage(scope, [p.chunk.embedding_text() for p in passages])

    def text_coverage(self, scope: Scope, texts: list[str]) -> float:
        """Share of the question's informative words (weighted by rarity) that the texts mention. A word
        naming a theme ("finances") is mentioned by any word of the theme ("budget", "reserves")."""
        weights = self.question_terms(scope)
        found = self.spelled_out({t for text in texts for t in tokenize(text)})
        if not weights:
            return 1.0
        return sum(w for t, w in weights.items() if self.mentioned(t, found)) / sum(weights.values())

    def mentioned(self, term: str, found: set[str]) -> bool:
        return term in found or bool(self.theme_words.get(term, set()) & found)

    @cached_property
    def acronyms(self) -> dict[str, str]:
        """The acronyms the indexed documents spell out, each (stemmed) with its words as written:
        "mtfs": "Medium Term Financial Strategy". A report may use either form on its own."""
        found: dict[str, str] = {}
        for doc in self.index.documents.values():
            for short in sorted(set(re.findall(r"\(([A-Z]{2,6})\)", doc.text))):
                spelled = SKIPPED_BY_INITIALS.join(rf"{letter}[\w'’-]*" for letter in short)
                if match := re.search(rf"\b({spelled})\s*\({short}\)", doc.text):
                    found.setdefault(tokenize(short)[0], " ".join(match.group(1).split()))
        return found

    @cached_property
    def acronym_stems(self) -> dict[str, set[str]]:
        """Each acronym's words stemmed, once: coverage is measured for every sentence a check weighs."""
        return {short: set(tokenize(words)) for short, words in self.acronyms.items()}

    def spelled_out(self, found: set[str]) -> set[str]:
        """The words with each acronym's words added, and each acronym whose words are all there."""
        more = set(found)
        for short, stems in self.acronym_stems.items():
            if short in found:
                more |= stems
            elif stems <= found:
                more.add(short)
        return more

    def missing_words(self, scope: Scope, texts: list[str]) -> list[str]:
        """The question's informative words, as the user wrote them, that none of the texts mention."""
        terms, found = self.question_terms(scope), self.spelled_out({t for text in texts for t in tokenize(text)})
        words = TOKEN.findall(scope.query.lower().replace("’", "'"))
        return list(dict.fromkeys(w for w in words if (stem := tokenize(w)) and stem[0] in terms
                                  and not self.mentioned(stem[0], found)))

    def search_scope(self, scope: Scope, k: int | None = None, filters: Filters | None = None,
                     mode: str = "hybrid") -> list[Passage]:
        """Search with the councils, kinds and years a question named, on top of explicit filters.

        Council names the filter already enforces are dropped from the BM25 query: in a council's
        own reports its name is everywhere and would only add noise."""
        filters = merge_filters(scope, filters)
        query = topic(scope.query)
        lexical_query = strip_councils(query, [c for c in self.councils if c.name in filters.councils])
        # "MTFS" also finds the report that writes "Medium Term Financial Strategy", and the other way round.
        asked = set(tokenize(lexical_query))
        lexical_query = " ".join([lexical_query, *(self.acronyms[short] if short in asked else short
                                                   for short, stems in self.acronym_stems.items()
                                                   if (short in asked) != (stems <= asked))])
        if scope.verdict and not self.question_terms(scope):
            # "What were the key findings?", "Summarise the report": what the executive summary says.
            # In the summary's own order: its opening paragraphs give the overall view, and with no topic to
            # rank by, similarity to "summarise the report" would put a paragraph on one theme first.
            summary = self.search(query, k, replace(filters, sections=["executive summary"]), mode, lexical_query)
            summary.sort(key=lambda p: (p.chunk.doc_id, p.chunk.start))
            for n, passage in enumerate(summary, 1):
                passage.n = n
            if summary:
                return summary
        return self.search(query, k, filters, mode, lexical_query)


def fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], settings: Settings) -> dict[int, float]:
    """Combined scores: reciprocal rank fusion ("rrf"), or a weighted sum of scores scaled to 0..1
    within each ranking ("scores"), which keeps how far apart the candidates are, not just their order."""
    fused: dict[int, float] = {}
    weights = {"dense": settings.dense_weight, "lexical": settings.lexical_weight}
    for name, ranking in (("dense", dense), ("lexical", lexical)):
        if not ranking:
            continue
        if settings.fusion == "rrf":
            contributions = [(pos, 1.0 / (settings.rrf_k + rank + 1)) for rank, (pos, _) in enumerate(ranking)]
        else:
            top, low = ranking[0][1], ranking[-1][1]
            # A lone candidate (one passage holds the query's words) is the best of its ranking, not the worst.
            contributions = [(pos, (score - low) / (top - low) if top > low else 1.0) for pos, score in ranking]
        for pos, value in contributions:
            fused[pos] = fused.get(pos, 0.0) + weights[name] * value
    return fused


def merge_filters(scope: Scope, explicit: Filters | None) -> Filters:
    explicit = explicit or Filters()
    return Filters(
        councils=explicit.councils or scope.councils,
        kinds=explicit.kinds or scope.kinds,
        years=explicit.years or scope.years,
        doc_ids=explicit.doc_ids,
    )
