"""Checking that an answer sentence is supported by the passage it cites.

The check is lexical and numeric, so it is fast, deterministic and explainable:
- every number in the sentence (years, £ amounts, percentages, counts) must appear in the passage, all
  of them within two neighbouring sentences of it, so that a figure is not paired with another year;
- most of the sentence's content words (stemmed) must appear within a few neighbouring sentences of
  the passage, so that a name from one paragraph is not joined to a role from another;
- a count must count the same thing as in the passage: "25 councillors" is not supported by "from 22 to
  25 October", nor "spoke to 8 people" by "the team of 8 peers";
- each clause must say "not" (or "no", "lacks"…) where the passage clause it restates does, so
  that "does not always feel listened to" is not turned into "feels listened to" (and "difficult to
  see" not into "can easily see").
Small models paraphrase little and copy a lot, so word coverage is a strong signal; the threshold
and its measured precision are recorded in eval/RESULTS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.retrieval import SENTENCE_BREAK, STOPWORDS, tokenize
from assistant.scope import FINANCIAL_YEAR, financial_year

CITATION = re.compile(r"\s*\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")
NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
# Fractions are figures too: "over a third" must not stand for the passage's "over a fifth".
FRACTION = re.compile(r"\b(half|third|quarter|fifth|tenth)s?\b", re.I)
# A web address is not part of a claim, and its path ("…/Data/Resources…") must not pass for words.
# One in angle brackets may hold spaces where the source broke a long address across lines, and may run
# to the end of a passage that cuts it short.
LINK = re.compile(r"<https?://[^<>]*(?:>|$)|\bhttps?://[^\s<>]+")
# A count and what it counts ("8 people"); figures inside "£8m", "2015/16", "8.5" or "HS2" are not counts.
COUNT = re.compile(r"(?<![\w£$€.,/])(\d+)\s+([A-Za-z][\w'’-]*)")
# A number right after one of these words is a label, not a count ("Section 24 notice", "Schedule 7").
LABELLED = re.compile(r"\b(?:section|schedule|part|article|paragraph|clause|regulation|chapter|appendix|annex|"
                      r"table|figure|page|item|recommendation|priority|act|phase|stage|level|tier|no\.?|number)\s*$",
                      re.I)
# How many content words after a number in the passage may name what it counts ("370 hours", "8 district
# and borough councils").
COUNTED_WINDOW = 3
NEGATION = re.compile(r"\b(not|no|never|none|nor|neither|cannot|without|lacks?|lacking|lacked|absence|absent|"
                      r"unable|fails?|failed|failing|difficult)\b|n[’']t\b", re.I)
CLAUSE = re.compile(r"[,;:()–—]|\b(?:but|however|although|though|whilst|while|whereas|yet)\b", re.I)
# Words that keep a recommendation a recommendation when an answer restates it.
ADVISING = re.compile(r"\b(recommend\w*|should|needs?|needed|must|suggest\w*|advis\w*|urg\w*|encourag\w*|"
                      r"could|ought|asked|calls?|called)\b", re.I)
# Words that make a statement less than a finding: a view, a perception, a possibility, a plan ("May 2017"
# is a date).
HEDGE = re.compile(r"\b(?:suggest\w*|perceiv\w*|perceptions?|appears?|appeared|seems?|seemed|may(?!\s+\d)|might|"
                   r"concerns? that|concerned that|apparently|reportedly|possibly|likely|unclear|"
                   r"will|plans? to|planned|aims? to|intends? to|proposed|proposals?|asked to)\b", re.I)
CLAUSE_END = re.compile(r"[,;:]|\s(?:and|but|although|though|while|whereas)\s")
# The verb a recommendation starts with, after a bullet and an adverb: "- Consistently engage with …".
OPENING_VERB = re.compile(r"^\W*(?:[a-z]+ly\s+)?([a-z]+)\b", re.I)
# A clause is compared with the passage clause that holds most of its words, if that is this share.
CLAUSE_MATCH = 0.5
# A sentence that stops on a word like "of" or "including" is a list heading cut short, not a claim.
UNFINISHED = re.compile(r"(\b(of|the|a|an|and|or|to|for|with|including|through|by|in|on|at|from|as|such|e\.g|"
                        r"i\.e|is|are|was|were|our|their|its)|[,:;(–-])\W*$", re.I)
# The gap between two answer sentences; the group is any citation written after the full stop
# ("… identity. [1] They…"), which belongs to the sentence before it.
SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[[\d,;\s–-]+\])*)\s+(?=[A-Z\"“‘(*-])")
# Two or more capitalised words in a row, a name: "Value for Money Board", "Culture, Heritage and Tourism Board".
NAME_RUN = re.compile(r"(?<!^)(?<![.!?;:]\s)(?<![-•*–]\s)\b[A-Z][\w'’-]*"
                      r"(?:,?\s+(?:(?:and|of|for|the|&)\s+)?[A-Z][\w'’-]*)+")
# A quote is one sentence or one list item: a bullet or a blank line starts a new piece even after a line
# without a stop. A colon ends a piece at the end of a line, or before five or more words on its line:
# "LGA peer challenge manager: Judith Hurcombe" is one item.
QUOTE_PIECE = re.compile(r"(?<=[.!?;])\s+|(?<=:)[ \t]*\n\s*|(?<=:)[ \t]+(?=(?:\S+[ \t]+){4}\S)"
                         r"|\n\s*(?=[-•*–]\s)|\n\s*\n")
REFUSAL = re.compile(
    r"\b(do(?:es)? not (?:say|mention|contain|provide|include|specify|state)|no (?:information|mention|details?)|"
    r"not (?:mentioned|stated|specified|covered|provided)|cannot (?:answer|find|determine)|"
    r"(?:isn't|is not|aren't|are not) (?:mentioned|stated|covered|in the))\b",
    re.I,
)
NUMBER_WORDS = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|half|third|quarter|dozen|per ?cent|majority|minority|first|second|fourth|fifth|"
    r"sixth|seventh|eighth|ninth|tenth)\b", re.I)
DATE_WORDS = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december|spring|summer|"
    r"autumn|winter|annual|annually|yearly|monthly|weekly|daily|quarterly|year|years|month|months|week|weeks)\b",
    re.I)
# "Earlier this year" dates nothing for a reader who does not know when it was written.
RELATIVE_DATE = re.compile(r"\b(?:(?:earlier|later)\s+)?(?:this|last|next|that)\s+(?:year|month|week)\b", re.I)
# Coverage of the sentence's content words by the passage at which a sentence counts as supported.
SUPPORT_THRESHOLD = 0.6
# How many neighbouring passage sentences the words, and the numbers, of one answer sentence may be
# spread over.
WORD_WINDOW = 3
NUMBER_WINDOW = 2


@dataclass
class Support:
    score: float  # share of the sentence's content words found in the passage
    numbers_ok: bool
    supported: bool
    negation_ok: bool = True


def split_sentences(text: str) -> list[str]:
    """Answer text into sentences, keeping each sentence's trailing citations with it."""
    pieces: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            parts = SENTENCE_END.split(line) + [""]  # sentence, its citations, sentence, …
            pieces.extend(text.strip() for i in range(0, len(parts) - 1, 2)
                          if (text := parts[i] + parts[i + 1]).strip())
    return pieces


def cited_numbers(sentence: str) -> list[int]:
    numbers: list[int] = []
    for group in CITATION.findall(sentence):
        for part in re.split(r"\s*[,;]\s*", group):
            if re.match(r"^\d+\s*[-–]\s*\d+$", part):
                a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                numbers.extend(range(a, b + 1) if 0 < b - a < 10 else [a, b])
            elif part.strip().isdigit():
                numbers.append(int(part))
    return list(dict.fromkeys(numbers))


def strip_citations(sentence: str) -> str:
    return CITATION.sub("", sentence).strip()


def strip_links(sentence: str) -> str:
    return re.sub(r"\s{2,}", " ", LINK.sub("", sentence)).strip()


def numbers_in(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)} | {f.lower() for f in FRACTION.findall(text)}


def support(sentence: str, passage_text: str) -> Support:
    """How well one passage supports one (citation-free) sentence. A question in the passage asserts
    nothing: "Is overview and scrutiny effective and adding value?", from the list of what the council
    asked the peers to look at, does not support "scrutiny is effective and adding value"."""
    words = set(tokenize(sentence))
    if not words:
        return Support(0.0, True, False)
    sentences = [s for s in passage_sentences(passage_text) if not s.rstrip().endswith("?")]
    tokens = [tokenize(s) for s in sentences]
    found = [set(t) for t in tokens]
    score = max((len(words & set().union(*found[i:i + WORD_WINDOW])) / len(words) for i in range(len(found))),
                default=0.0)
    numbers_ok = (numbers_together(numbers_in(sentence), sentences)
                  and counts_agree(sentence, [t for ts in tokens for t in ts]))
    negation_ok = negation_agrees(sentence, sentences)
    return Support(score, numbers_ok, numbers_ok and negation_ok and score >= SUPPORT_THRESHOLD, negation_ok)


def figure_with_its_name(sentence: str, passage_text: str) -> bool:
    """Whether a sentence that names something and gives a figure ("The Culture, Heritage and Tourism Board
    first met in early 2019") has the name and a figure together in one piece of the passage, a sentence or
    a list item: two items of a list of new boards are two facts. True when the sentence lacks either.
    A capital opening a sentence or a list item starts no name."""
    figures = numbers_in(sentence)
    named = [words for run in NAME_RUN.findall(sentence) if (words := set(tokenize(run)))]
    if not figures or len(named) != 1:
        return True  # a sentence of several names (a list copied whole) is left to the word check
    pieces = [(set(tokenize(piece)), numbers_in(piece)) for piece in QUOTE_PIECE.split(passage_text)]
    return any(figures & numbers and named[0] <= words for words, numbers in pieces)


def counts_agree(sentence: str, passage: list[str]) -> bool:
    """Whether each count in the sentence ("8 people") has its number followed, somewhere in the passage
    (given as its tokens), by what it counts. Years ("2017 accounts") and counts of small words ("3 of
    them") are not checked."""
    for count in COUNT.finditer(sentence):
        number, word = count.groups()
        if LABELLED.search(sentence[:count.start()]):
            continue  # "Section 24 notice": the number names the section, it counts nothing
        counted = tokenize(word)
        if not counted or (len(number) == 4 and number[:2] in ("19", "20")):
            continue
        if not any(t == number and counted[0] in passage[i + 1:i + 1 + COUNTED_WINDOW] for i, t in enumerate(passage)):
            return False
    return True


def negation_agrees(sentence: str, passage_sentences: list[str]) -> bool:
    """Whether each clause of the sentence keeps the negation of the passage clause holding most of its
    words. Only dropping one is caught: adding one is often a fair reading ("there are issues to be
    addressed to ensure the accounts are compiled on time" → "the accounts are not compiled on time").
    A clause whose words no passage clause mostly holds is left to the word check."""
    theirs = [(set(tokenize(c)), bool(NEGATION.search(c)))
              for s in passage_sentences for c in CLAUSE.split(s)]
    for clause in CLAUSE.split(sentence):
        words = set(tokenize(clause))
        if len(words) < 2 or not theirs:
            continue
        shared, negated = max(((len(words & w), neg) for w, neg in theirs), key=lambda x: x[0])
        if shared >= CLAUSE_MATCH * len(words) and negated and not NEGATION.search(clause):
            return False
    return True


def passage_sentences(text: str) -> list[str]:
    return [s for line in text.splitlines() for s in SENTENCE_BREAK.split(line) if s.strip()]


def numbers_together(numbers: set[str], sentences: list[str], window: int = NUMBER_WINDOW) -> bool:
    """Whether all the numbers occur within `window` neighbouring sentences of a passage."""
    if not numbers:
        return True
    found = [numbers_in(s) for s in sentences]
    return any(numbers <= set().union(*found[i:i + window]) for i in range(len(found)))


def digit_words(text: str) -> set[str]:
    """The words holding a digit, lower-cased: "HS2", "2017/18", "263m" of "£263m"."""
    return set(re.findall(r"\w*\d[\w/]*", text.lower()))


def lacks_expected(text: str, expects: str, question: str) -> str:
    """What the answer text fails to give that the question asks for ("figure", "date or time", "name",
    "person's name"), or "" if it gives it."""
    # Numbers the question already holds ("HS2", "since 2010") are not what it asks for.
    asked = digit_words(question)
    new_numbers = digit_words(text) - asked
    # A year says when, not how much: "How much did the work cost?" is not answered by "launched in 2018";
    # nor is a span of time ("overspent … in the last 2 years") unless the question asks how long.
    measured = text if TIME_ASKED.search(question) else DURATION.sub(" ", text)
    figures = digit_words(measured) - asked
    figures = figures if HOW_LONG.search(question) else {n for n in figures if not YEAR_LIKE.fullmatch(n)}
    how_many = HOW_MANY.search(question)
    if expects == "number" and not (figures or NUMBER_WORDS.search(text)):
        return f"count of {how_many.group(1)}" if how_many else "figure"
    if expects == "number" and how_many and not re.search(r"£|\bpounds\b", question):
        # "How many people responded…?" is not answered by "budget reductions of £263m".
        counts = digit_words(MONEY.sub(" ", measured)) - asked
        if not ({n for n in counts if not YEAR_LIKE.fullmatch(n)} or NUMBER_WORDS.search(MONEY.sub(" ", text))):
            return f"count of {how_many.group(1)}"
    if expects == "number" and PERCENT_ASKED.search(question) and not PERCENT_GIVEN.search(text):
        return "percentage"  # "ranked 16 out of 27" is no collection rate
    if expects == "number" and (counted := uncounted(text, question)):
        return f"count of {counted}"
    if expects == "date" and FINANCIAL_YEAR.search(question):
        # "When did Derby close its 2015/16 accounts?": another financial year is another set of accounts.
        new_numbers = {n for n in new_numbers if "/" not in n}
    if expects == "date" and not (new_numbers or DATE_WORDS.search(RELATIVE_DATE.sub(" ", text))):
        return "date or time"
    if expects == "name":
        # "Who is the interim Director of Finance?" asks for a person, and another post is no answer. A
        # document's title names no one: "the external auditor is the Public Interest Report".
        person = bool(ASKS_FOR_PERSON.search(question))
        text = DOCUMENT.sub(" ", text)
        if CHAIR_ASKED.search(question) and not names_someone(BODY.sub(" ", text), question):
            return "person or post"  # a chair is someone, not "the Culture, Heritage and Tourism Board"
        if not names_someone(text, question, person):
            return "person's name" if person else "name"
    return ""


# A document's title: "the Public Interest Report", "Council Plan 2016-19", "Medium Term Financial Strategy".
DOCUMENT = re.compile(r"(?:[A-Z][\w'’&-]*\s+)+(?:Reports?|Plans?|Strateg(?:y|ies)|Frameworks?|Programmes?|"
                      r"Polic(?:y|ies)|Reviews?|Surveys?|Statements?|Notices?|Acts?)\b(?:\s+\d[\d/-]*)?")
# "Who chairs the Value for Money Board?": a person or a post chairs a meeting, never another body.
CHAIR_ASKED = re.compile(r"^\W*who\s+(?:chairs|chaired|will\s+chair|is\s+chairing)\b", re.I)
# A body named in capitals, with any names listed before it: "the Culture, Heritage and Tourism Board".
BODY = re.compile(r"(?:[A-Z][\w'’&-]*,?\s+(?:and\s+|&\s+)?)*(?:Boards?|Committees?|Groups?|Partnerships?|"
                  r"Councils?|Teams?|Panels?|Forums?|Authority|Authorities|Trusts?|Services?)\b")


# A question asking for a share, and an answer giving one ("93%", "over a fifth", "one in four").
PERCENT_ASKED = re.compile(r"\bpercentage\b|\bper\s?cent\b|%|^\W*what\s+(?:share|proportion)\b", re.I)
PERCENT_GIVEN = re.compile(rf"%|\bper\s?cent\b|{FRACTION.pattern}|\bhalves\b"
                           r"|\b(?:one|\d+)\s+in\s+(?:every\s+)?(?:two|three|four|five|ten|\d+)\b"
                           r"|\b(?:majority|minority)\b", re.I)
def uncounted(text: str, question: str) -> str:
    """What "How many X…?" asks to count, as the question writes it, if the answer names X without a
    number just before it ("grievances … have increased over the last 2 years" counts years), else "". An
    answer not naming X ("8 peers" for "how many people") is left to the other checks."""
    asked = HOW_MANY.search(question)
    counted = tokenize(asked.group(1)) if asked else []
    words = tokenize(text)
    if not counted or counted[0] not in words:
        return ""
    given = any(t == counted[0] and any(NUMBER_LIKE.fullmatch(w) for w in words[max(0, i - COUNTED_WINDOW):i])
                for i, t in enumerate(words))
    return "" if given else asked.group(1)


HOW_MANY = re.compile(r"\bhow many\s+(?:of\s+the\s+|new\s+|more\s+)?([a-z][\w'’-]*)", re.I)
# A count, not a vague quantity: "high numbers of grievances" does not say how many.
NUMBER_LIKE = re.compile(r"\d[\w,./]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                         r"forty|fifty|hundred|thousand|million|dozen")
# A year, or a financial year ("2017/18").
YEAR_LIKE = re.compile(r"(19|20)\d\d(/\d\d(\d\d)?)?")
# Questions a year can answer as a figure ("How long has Derby faced cuts?" "Since 2010").
HOW_LONG = re.compile(r"\bhow long\b|\bsince when\b", re.I)
# A span of time ("2 years", "more than 9 weeks"), and questions that ask for one.
DURATION = re.compile(r"\b\d[\d,.]*\s+(?:years?|months?|weeks?|days?|hours?)\b", re.I)
TIME_ASKED = re.compile(r"\b(?:long|time|years?|months?|weeks?|days?|hours?|period)\b", re.I)
# A sum of money: "£263m", "£5.98 million".
MONEY = re.compile(r"£\s?\d[\d,.]*\s*(?:m|bn|k|million|billion)?\b", re.I)
# "Who is the Leader…?", "Who was Derbyshire's Strategic Director…?": a post named, its holder asked for.
ASKS_FOR_PERSON = re.compile(r"^\W*who\s+(?:is|was|are|were)\b(?=.*\b(?:leader|mayor|chair\w*|director|"
                             r"executive|officer|manager|head|cabinet member|portfolio holder|auditor)\b)", re.I)


# A title or a post names someone on its own ("Cllr", "the Leader of the Council").
HONORIFIC = r"Cllr|Councillor|Mr|Mrs|Ms|Miss|Dr|Sir|Dame|Lord|Lady|Professor"
TITLE = re.compile(rf"({HONORIFIC}|Leader|Mayor|Chair\w*|Director|Executive|Officer|Manager|Adviser|Advisor|"
                   r"Commissioner|Auditor)\.?")
# A person named with an honorific and a surname: "Cllr Banwait".
HONOURED = re.compile(rf"\b(?:{HONORIFIC})\.?\s+[A-Z][a-z]")


def names_someone(text: str, question: str, person: bool = False) -> bool:
    """Whether the text names a person, post or body the question did not already name: two capitalised
    words in a row ("Barry Lewis", "Strategic Director", "Audit Committee"), one of them new to the
    question, or a title or post ("Cllr", "Leader"). A lone capitalised word ("HS2", "Toton", "LGA's
    review") is a place or thing, not who did something. With `person`, only a person counts: two
    capitalised words, neither a title or post ("Wendy Thomson", not "Strategic Director" or "external
    auditors"), or an honorific with a surname ("Cllr Banwait")."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    for sentence in split_sentences(text):
        words = re.findall(r"[A-Za-z][\w'’-]*", sentence)
        capital = [w[0].isupper() and w.lower() not in STOPWORDS for w in words]  # not "The" opening it
        if person:
            capital = [c and not TITLE.fullmatch(w) for w, c in zip(words, capital)]
        new = [c and POSSESSIVE.sub("", w.lower()) not in asked for w, c in zip(words, capital)]  # "Council's"
        if not person and any(TITLE.fullmatch(w) for w, fresh in zip(words, new) if fresh):
            return True
        if any(capital[i] and capital[i + 1] and (new[i] or new[i + 1]) for i in range(len(words) - 1)):
            return True
        if not person and any(m.group(1).lower() not in asked for m in POST.finditer(sentence)):
            return True
        if person and HONOURED.search(sentence):
            return True
    return False


POSSESSIVE = re.compile(r"['’]s$")
# A post the reports write in lower case: "issued by the current external auditor".
POST = re.compile(r"\b(?:external|internal|previous|current|new|interim)\s+(auditors?|inspectors?|chief executive|"
                  r"leader|monitoring officer|section 151 officer|director)\b", re.I)


def names_in(text: str, question: str) -> list[str]:
    """Runs of capitalised words in the text ("Helen Isaacs", "North East Lincolnshire Council") with a
    word that is neither in the question nor a stopword."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    runs = re.findall(r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)+", text)
    return [r for r in runs if any(w.lower() not in asked and w.lower() not in STOPWORDS for w in r.split())]


# Words in names that say whose thing it is, not which ("The Council's Community Safety Partnership").
COMMON_IN_NAMES = frozenset(tokenize("council county city borough district authority"))


def names_held(sentence: str, passage: str, question: str = "") -> bool:
    """Whether the passage holds every name the sentence gives (a run of capitalised words that is not
    the question's): "the Leader of Derbyshire, Barry Lewis, has been subject to a focussed Ofsted
    inspection" is not supported by a passage on the inspection that never names him."""
    held = set(tokenize(passage)) | set(tokenize(question)) | COMMON_IN_NAMES
    return all(set(tokenize(name)) <= held for name in names_in(sentence, question))


def named_for_the_question(name: str, passage: str, question: str, weights: dict[str, float]) -> bool:
    """Whether the passage's line (or sentence) naming `name` holds at least as much of the question's
    words (weighted) as every line naming someone else. "Who was the People director on the peer
    team?" is not answered by "Helen Isaacs, Director of Governance" when another line of the team list
    reads "Sally Rowe, Corporate Director: People"."""
    pieces = [p for line in passage.splitlines() for p in re.split(r"(?<=[.!?])\s+", line) if p.strip()]

    def held(piece: str) -> float:
        words = set(tokenize(piece))
        return sum(w for t, w in weights.items() if t in words)

    mine = [held(p) for p in pieces if name in p]
    others = [held(p) for p in pieces if name not in p and names_in(p, question)]
    if not mine:
        return True
    best = max(mine)
    return best >= max(others, default=0.0) and all(
        nearest_to_the_question(name, p, question, weights) for p in pieces if name in p and held(p) == best)


# What stands between a post and the name it introduces: the rest of the post's capitalised words.
POST_BEFORE_NAME = re.compile(r"[\s,:]*(?:[A-Z][\w'’&-]*[\s,:]*)*")


def nearest_to_the_question(name: str, piece: str, question: str, weights: dict[str, float]) -> bool:
    """Whether, of the people the piece names, `name` is given at least as much of the question's words
    (weighted) as any other. A word belongs to the last person named before it, as in "Name, post", or to
    the next if only capitalised words come between ("Post, Name"); words before the first person belong to
    the first. "Councillor Baggy Shanker, Cabinet Member for Finance & Governance and Paul Robinson the
    Chief Executive" gives the finance portfolio to Baggy Shanker."""
    people = sorted((m.start(), m.end()) for run in names_in(piece, question) if is_person(run)
                    for m in re.finditer(re.escape(run), piece))
    if len(people) < 2:
        return True
    share = [0.0] * len(people)
    for word in re.finditer(r"\w+", piece):
        if not any(start <= word.start() < end for start, end in people):
            after = [i for i, (start, _) in enumerate(people) if start > word.start()]
            owner = max([i for i, (start, _) in enumerate(people) if start < word.start()], default=0)
            if after and POST_BEFORE_NAME.fullmatch(piece[word.end():people[after[0]][0]]):
                owner = after[0]  # "the Chief Executive, Paul Robinson"
            share[owner] += sum(weights.get(t, 0.0) for t in tokenize(word.group()))
    mine = [s for (start, end), s in zip(people, share) if name in piece[start:end] or piece[start:end] in name]
    return not mine or max(mine) >= max(share)


def is_person(run: str) -> bool:
    """Whether a run of capitalised words is a person's name ("Councillor Baggy Shanker", "Paul Robinson"),
    not a post or a body ("Chief Executive", "Derby City Council")."""
    words = re.sub(rf"^(?:{HONORIFIC})\.?\s+", "", run).split()
    return 2 <= len(words) <= 3 and words[0].lower() not in STOPWORDS and not any(
        TITLE.fullmatch(w) or set(tokenize(w)) & COMMON_IN_NAMES for w in words)


def missing_periods(text: str, periods: list[str]) -> list[str]:
    """The financial years of the question (e.g. '2019/20') that the answer text does not mention."""
    mentioned = {financial_year(m) for m in FINANCIAL_YEAR.findall(text)}
    return [p for p in periods if p not in mentioned]


def unfinished(sentence: str) -> bool:
    return bool(UNFINISHED.search(sentence))


def cut_off(sentence: str) -> bool:
    """Whether a draft's last sentence stops part-way, as when the model reaches its length limit
    ("They also heard that scrutiny"): no closing punctuation and no citation."""
    return not cited_numbers(sentence) and not re.search(r"[.!?…\"”’)]\W*$", sentence)


def is_refusal(text: str) -> bool:
    return bool(REFUSAL.search(text))


def drops_hedge(sentence: str, quote: str) -> bool:
    """Whether the sentence states as fact what its passage sentence (`quote`, whole) only hedges: "Staff
    morale is beginning to wane" from "Staff views … suggest that morale is beginning to wane". A hedge
    holds to the end of its clause: "everything appears to be a priority, officers are stretched" hedges
    the priorities, not the officers."""
    if HEDGE.search(sentence) or quote.rstrip()[-1:] not in (".", "!", "?"):
        return False
    words = set(tokenize(sentence))
    return any(words & set(tokenize(CLAUSE_END.split(quote[m.end():], maxsplit=1)[0])) for m in HEDGE.finditer(quote))


def states_advice_as_fact(sentence: str, quote: str) -> bool:
    """Whether the sentence turns the recommendation it quotes into a finding: "the council consistently
    engages with key partnerships" from "Consistently engage with key partnerships", which the peers
    wrote because the council does not. Call it only with a quote from a recommendations section."""
    if ADVISING.search(sentence):
        return False
    opening = OPENING_VERB.match(quote)
    if not opening:
        return False
    verb = opening.group(1).lower().rstrip("e")
    return bool(re.search(rf"\b{re.escape(verb)}e?(s|d|es|ed)\b", sentence, re.I))


def best_quote(sentence: str, passage_text: str, max_chars: int = 300) -> str:
    """The passage sentence sharing most content words with the answer sentence: a verbatim substring."""
    words = set(tokenize(sentence))
    best, best_score = "", -1.0
    for candidate in QUOTE_PIECE.split(passage_text):
        candidate = candidate.strip()
        if not strip_links(candidate) or candidate.startswith("#"):
            continue
        cand_words = set(tokenize(candidate))
        score = len(words & cand_words) / (len(words) or 1) + 0.01 * min(len(cand_words), 20) / 20
        if score > best_score:
            best, best_score = candidate, score
    if len(best) > max_chars:
        best = best[:max_chars].rsplit(" ", 1)[0]
    return best
