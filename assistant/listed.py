"""Answers made straight from a report's own lists, without the model: its key recommendations (records
extracted at index time), its peer team, and any list it introduces with a colon. Each is complete and
word for word, every item cited to its lines of the file."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.answer import Answer, Citation, join_words
from assistant.chunking import Chunk
from assistant.lists import lists_in
from assistant.retrieval import TOKEN, Filters, Passage, Retriever, merge_filters, tokenize
from assistant.scope import RECOMMENDATION, THEME_NAMES, THEMES, Scope, strip_councils, topic
from assistant.team import matching, unlisted

# Words of a question on the peer team that ask for it, not for one post on it ("the People director").
TEAM_WORDS = frozenset(tokenize(
    "he she his her him they their them "  # "What was Helen Isaacs' job when she sat on the team?"
    "peer peers team teams member members membership list name names sat sit served serve joined made up "
    "formed person challenge corporate review delivered all everyone everybody include included many "
    "composition make makeup role roles post posts job jobs title position service services department "
    "responsible head came come comes work works worked working employed compare compared comparison differ "
    "differences difference similar"
))
# Words of a question asking for recommendations that ask, not name a subject ("What should Derby do next?").
REQUEST_WORDS = frozenset(tokenize(
    "key main next need needs improve change do make made give suggest suggested suggestions action actions "
    "step steps area areas top most important all peer challenge corporate lga concern concerns concerning "
    "regarding relating relate related around within between across become get got receive received given "
    "issue issued number total"
))
THEME_NAME_STEMS = frozenset(tokenize(" ".join(THEME_NAMES)))
THEME_WORD_STEMS = frozenset(tokenize(" ".join(w for words in THEMES.values() for w in words if " " not in w)))
# A list the passages give answers the question when its introduction holds this share of the question's
# words (by rarity): at 0.5, five list questions of the evaluation sets get every item, and no
# unanswerable question gets a list (eval/RESULTS.md). Asked what the peers said about a subject, a list
# of examples is too narrow an answer (BROAD), as it is for a question asking for one thing (a date).
LIST_COVERAGE = 0.5
BROAD = re.compile(r"^\W*(?:what|how)\s+(?:did|do|does|have|has)\b[^?]*?\b(?:say|said|find|found|report|reported|"
                   r"think|thought|conclude|make)\w*\s+(?:about|on|of|regarding)\b", re.I)
# "How many people were on the team?" asks for the team; "the People director" names a post.
NOT_A_POST = re.compile(r"\bpeople\b(?!['’]s|\s+(?:director|directorate|services?)\b)", re.I)

def recommendation_answer(retriever: Retriever, scope: Scope, filters: Filters | None) -> Answer | None:
    """Recommendations listed from the records extracted at index time (complete, in report order). The
    caller sends a subject no record mentions (`unrecommended`) to the report's other passages instead."""
    # Only the reports' own lists are records; "the recommendations in Derby's press release" are searched.
    councils = merge_filters(scope, filters).councils
    records = records_in_scope(retriever, scope, filters)
    if not records:
        return None
    if not councils and len({r["council"] for r in records}) > 1 and scope.ambiguous:
        return None
    themed, about, note = recommendations_on(retriever, scope, records)
    lines, citations, passages = [], [], []
    current = None
    for r in themed:
        if r["council"] != current:
            current = r["council"]
            total = sum(other["council"] == current for other in records)
            shown = sum(other["council"] == current for other in themed)
            count = f"{total} key recommendations" if shown == total else \
                f"{shown} of its {total} key recommendations"
            label = f"{r['council']} — {count} ({r['title']}, {r['date'][:4]})"
            if themed is not records:
                label += f", {about}"
            lines.append(f"\n**{label}:**")
        n = len(citations) + 1
        lines.append(f"{r['number']}. {r['headline']} [{n}]")
        passage = record_passage(n, f"{r['doc_id']}@rec{r['number']}", r)
        passages.append(passage)
        citations.append(Citation.from_passage(n, passage, r["headline"]))
    text = (note + "\n".join(lines)).strip()
    return Answer(scope.question, scope, text, citations, passages, kind="recommendations")

def records_in_scope(retriever: Retriever, scope: Scope, filters: Filters | None) -> list[dict]:
    """The key recommendations of the reports the question (and the filters) admit."""
    wanted = merge_filters(scope, filters)
    return [r for r in retriever.index.recommendations if wanted.admits(retriever.index.documents[r["doc_id"]])]


def unrecommended(retriever: Retriever, scope: Scope, filters: Filters | None) -> list[str]:
    """The question's subject words ("digital", "HS2"), as it writes them, when no key recommendation in
    its scope mentions any of them: what the peers advised on the subject is then in the report's other
    passages ("DCC should prioritise its adoption of technology"), not in its list."""
    records = records_in_scope(retriever, scope, filters)
    words, unused = subject_words(retriever, scope, records)[1:]
    return words if records and words and unused == words else []


def subject_words(retriever: Retriever, scope: Scope, records: list[dict]
                  ) -> tuple[dict[str, float], list[str], list[str]]:
    """The question's subject stems that pick records (with their weights), its subject words as it
    writes them, and those of the words no record mentions."""
    asked = replace(scope, query=RECOMMENDATION.sub(" ", scope.query))
    weights = {t: w for t, w in retriever.question_terms(asked).items()
               if t not in REQUEST_WORDS and t not in THEME_NAME_STEMS and t not in map(str, scope.years)
               and (not scope.themes or t in THEME_WORD_STEMS or any(c.isdigit() for c in t))}
    words = [w for w in dict.fromkeys(re.findall(TOKEN.pattern, topic(asked.query), re.I))
             if set(tokenize(w)) & set(weights)]  # as the question writes them ("HS2")
    held = [set(tokenize(r["text"])) for r in records]
    unused = [w for w in words if not any(set(tokenize(w)) & found for found in held)]
    return weights, words, unused


def recommendations_on(retriever: Retriever, scope: Scope, records: list[dict]) -> tuple[list[dict], str, str]:
    """The records the question asks for, what they are about, and a note when some of its words are in
    none. (When all are in none, `unrecommended`, the question is answered from the report's other passages.)

    The question's subject words ("commercialism", "the Enterprising Council") pick the records
    that use them, those with half the best weight of them or more. When the question names a theme
    ("finance"), only words that are themselves on a theme's word list ("commercialism", "scrutiny"),
    and figures ("2015/16"), pick records; if the question names none, the theme's records are listed,
    else all of them."""
    weights, words, unused = subject_words(retriever, scope, records)
    scores = [sum(w for t, w in weights.items() if t in set(tokenize(r["text"]))) for r in records]
    note = f"No recommendation mentions {join_words(unused)}; " if unused else ""
    if weights and max(scores) > 0:
        chosen = [r for r, score in zip(records, scores) if score >= max(scores) / 2]
        said = [w for w in words if w not in unused]
        return chosen, f"mentioning {join_words(said)}", note and note + f"those mentioning {join_words(said)} are listed. "
    themes = ", ".join(scope.themes).lower()
    themed = [r for r in records if set(r["themes"]) & set(scope.themes)]
    if themed:
        return themed, f"on {themes}", note and note + f"those on {themes} are listed. "
    return records, "", note and note + "all are listed. "

def list_answer(retriever: Retriever, scope: Scope, passages: list[Passage]) -> Answer | None:
    """A list in the passages whose introduction holds most of the question's words ("What are
    Derby's Super Six pledges?"), given whole and verbatim, each item cited; None if there is none."""
    if scope.expects or BROAD.match(scope.question):
        return None
    # A follow-up ("how are they monitored?") asks about the list, not for it: its own words decide.
    weights = retriever.question_terms(replace(scope, query=scope.question) if scope.follow_up else scope)
    best, best_share = None, LIST_COVERAGE
    for passage in passages:
        doc = retriever.index.documents[passage.chunk.doc_id]
        for found in lists_in(doc.text, passage.chunk.start, passage.chunk.end):
            words = set(tokenize(found.subject))
            share = sum(w for t, w in weights.items() if t in words) / sum(weights.values()) if weights else 0
            if len(found.items) >= 2 and share >= best_share:
                best, best_share = (found, passage, doc), share
    if best is None:
        return None
    found, passage, doc = best
    source = doc.title if doc.council in doc.title else f"{doc.council} — {doc.title}"
    lines = [f"**{source} ({doc.date[:4]}):** “{found.intro}”"]
    citations, shown = [], []
    for start, end in found.items:
        n = len(citations) + 1
        item = doc.excerpt(start, end, f"{doc.doc_id}@item{start}", passage.chunk.section)
        shown.append(Passage(item, 1.0, n - 1, n=n))
        citations.append(Citation.from_passage(n, shown[-1], item.text))
        lines.append(f"- {item.text} [{n}]")
    return Answer(scope.question, scope, "\n".join(lines), citations, shown, kind="list")


def team_answer(retriever: Retriever, peers: list[Chunk], scope: Scope, filters: Filters | None) -> Answer | None:
    """Who was on the peer team, from the team lists of the reports: the whole team, or the peers
    whose posts the question names ("the People director"), each line cited."""
    councils = filters.councils if filters and filters.councils else scope.councils
    peers = [p for p in peers if not councils or p.council in councils]
    if not peers or (not councils and scope.ambiguous):
        return None
    asked = NOT_A_POST.sub(" ", strip_councils(scope.query, retriever.councils))
    terms = set(tokenize(asked)) - TEAM_WORDS
    lines, citations, passages = [], [], []
    unanswered = True  # no team's list holds every word of the question
    for council in dict.fromkeys(p.council for p in peers):
        team = [p for p in peers if p.council == council]
        missing = unlisted(team, terms)
        unanswered = unanswered and bool(missing)
        chosen, singled_out = matching(team, terms) if not missing else (team, False)
        count = f"{len(team)} peer{'s' * (len(team) != 1)}"
        count = f"{len(chosen)} of its {count}" if singled_out else count
        lines.append(f"\n**{council} — {count} ({team[0].title}, {team[0].date[:4]}):**")
        if missing:
            said = join_words([f"“{w}”" for w in dict.fromkeys(TOKEN.findall(asked.lower()))
                               if set(tokenize(w)) & missing])
            lines.append(f"The reports do not say: no line of the team list mentions {said}. The whole team is listed.")
        for peer in chosen:
            n = len(citations) + 1
            lines.append(f"- {peer.text} [{n}]")
            passage = Passage(peer, 1.0, n - 1, n=n)
            passages.append(passage)
            citations.append(Citation.from_passage(n, passage, peer.text))
    # "Who was the finance director on the team?" when no one's post is finance: the list is shown, but
    # as what was found, not as the answer.
    return Answer(scope.question, scope, "\n".join(lines).strip(), citations, passages, refused=unanswered,
                  kind="team")



def record_passage(n: int, chunk_id: str, record: dict) -> Passage:
    """A recommendation record's span of its document as passage n of an answer."""
    chunk = Chunk(chunk_id, record["doc_id"], record["title"], record["council"], "", record["date"],
                  record["source_path"], record["section"], record["text"], record["start"], record["end"],
                  record["line_start"], record["line_end"], 0)
    return Passage(chunk, 1.0, n - 1, n=n)


