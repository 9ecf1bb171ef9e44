"""What a question is about: which councils, document kinds and years, and what sort of question it is."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

COUNCIL_TYPES = ("City", "County", "Borough", "District", "Metropolitan Borough", "Town")
THEMES = {
    "Local priorities and outcomes": (
        "understanding of the local place", "priority setting", "priorities", "vision", "plan", "outcomes",
        "place", "community engagement", "communities", "residents", "strategy",
    ),
    "Organisational and place leadership": (
        "leadership of place", "partnership", "partners", "partnerships", "relationships", "health",
        "stakeholders", "collaboration", "leader",
    ),
    "Governance and culture": (
        "governance", "culture", "member", "members", "councillors", "behaviour", "scrutiny", "decision",
        "values", "political", "member-officer", "audit committee", "constitution",
    ),
    "Financial planning and management": (
        "finance", "finances", "financial", "budget", "accounts", "savings", "money", "reserves", "funding",
        "mtfs", "commercial", "commercialism", "spending", "income", "audit", "auditor", "revenue",
    ),
    "Capacity for improvement": (
        "capacity", "workforce", "staff", "skills", "capability", "transformation", "change",
        "resources", "hr", "human resources", "digital", "programme", "improvement",
    ),
}
# Words that name a whole theme: a sentence on any part of it (the budget, reserves, savings) is about
# "finances", though it never uses the word.
THEME_NAMES = {word: theme for theme, words in {
    "Financial planning and management": ("finance", "finances", "financial", "money"),
    "Governance and culture": ("governance", "culture"),
    "Organisational and place leadership": ("leadership", "partnership", "partnerships"),
    "Capacity for improvement": ("capacity", "workforce"),
    "Local priorities and outcomes": ("priorities",),
}.items() for word in words}
SINGULAR_REFERENCE = re.compile(r"\b(the council|the authority|council's|council’s|its|they|their|them)\b", re.I)
# "Which council's risk strategy…?" asks us to find the council, so it is not ambiguous.
ASKS_WHICH_COUNCIL = re.compile(r"\b(which|what)\s+(of\s+the\s+(two\s+)?)?(councils?|authorit(y|ies))\b", re.I)
# "Which council had the bigger reserves?": a comparison, answered side by side from each council's reports.
MORE_OR_LESS = re.compile(r"\b(?:more|less|bigger|larger|smaller|higher|lower|better|worse|stronger|weaker|greater|"
                          r"fewer|most|least|best|worst)\b", re.I)
ALL_COUNCILS = re.compile(r"\b(both councils|both authorities|each council|the two councils|all councils|"
                          r"every council|both reports|the two reports|each report)\b", re.I)
COMPARISON = re.compile(r"\b(compare|compared|comparison|contrast|versus|vs\.?|differ|difference|differences|"
                        r"similar|similarities|both)\b", re.I)
RECOMMENDATION = re.compile(r"\b(recommend\w*)\b", re.I)
# Asking for the peers' recommendations (a list), not about some other body's recommendation.
PEER_RECOMMENDATIONS = re.compile(
    r"\bkey recommendations?\b|\b(peers?|peer team|the team|they|lga|reviewers?|reports?|review)\b[^?.]{0,40}\brecommend"
    r"|\b(list|which|what|all|main|the|any|many)\b[^?.]{0,30}\brecommendations\b|^\s*recommendations\b"
    # "What should Derbyshire do next?", "What does Derby need to do to improve?"
    r"|^\W*what\s+(should|must)\b[^?.]{0,40}\bdo\b"
    r"|^\W*what\s+(does|do|did)\b[^?.]{0,40}\bneeds?\s+to\s+(do|improve|change)\b",
    re.I,
)
# Asking who was on a peer team ("Who was on the Derby peer team?", "Which councils were the peers from?"),
# not what the team did or found ("What did the peer team find?", "Who did the peers meet?", "…the peer
# team's report"). PEERS names the team or its members; a possessive ("the peers' view") does not.
PEERS = (r"(?:(?:corporate\s+)?peer\s+(?:challenge\s+|review\s+)?teams?|peers|peer\s+reviewers|lead\s+peers?)"
         r"\b(?!['’])")
# What may stand between "on", "who were" and the like and PEERS: "the", then names and possessives ("on the
# Derby City Council peer team", "in Derbyshire's peer team"), not other words ("in response to the peers").
BEFORE_PEERS = r"(?:the\s+)?(?:(?-i:[A-Z])[\w'’-]*\s+|[\w-]+['’]s\s+){0,4}?"
TEAM = re.compile(
    rf"\b(?:on|in|joined|made\s+up|formed|members?\s+of|membership\s+of|make-?up\s+of|composition\s+of)"
    rf"\s+{BEFORE_PEERS}{PEERS}"
    rf"|^\W*who\s+(?:was|were|is|are)\s+{BEFORE_PEERS}{PEERS}"
    rf"|^\W*who\s+(?:delivered|carried\s+out|conducted|took\s+part\s+in|led|leads|headed|chaired)\s+"
    rf"{BEFORE_PEERS}peer\s+(?:challenge|review|team)s?\b"
    rf"|\b{PEERS}\s+(?:\w+\s+)?(?:members?|membership|consist(?:ed)?\s+of|comprised?|include[ds]?(?!\s+in\b)"
    rf"|made\s+up\s+of|come\s+from|came\s+from|were\s+from)\b"
    rf"|^\W*(?:which|what)\s+(?:councils?|councillors?|officers?|people|organisations?|authorities|roles?|posts?|jobs?)"
    rf"\s+(?:were|was|sat|served)\b[^?.]*\b{PEERS}"
    rf"|^\W*(?:list|name)\s+(?:all\s+)?(?:of\s+)?the\s+{PEERS}"
    rf"|^\W*(?:which|who|how\s+many)\s+(?:of\s+the\s+)?peers\b[^?.]*\bon\s+the\s+(?:[\w'’-]+\s+){{0,3}}?teams?"
    rf"\b(?!['’])"
    rf"|\b(?:compare|comparison|differ)\w*\b[^?.]*\bpeer\s+(?:challenge\s+)?teams?\b(?!['’])"
    rf"|\bpeer\s+(?:challenge\s+)?teams\b[^?.]*\b(?:compare|differ)\w*",
    re.I,
)
ABOUT_THEM = re.compile(r"\b(them|they|those|these|which of|any of|how many of)\b", re.I)
# "Who did he ask to deliver the recommendations?" asks about them, not for the list.
ASKS_WHO_OR_WHEN = re.compile(r"^\W*(?:(?:and|but|so|then)\s+)?(?:who|whom|when)\b", re.I)
OTHER_RECOMMENDER = re.compile(r"\b(section 24|auditor|audit|ofsted|inspect\w*)\b", re.I)
BACK_REFERENCE = re.compile(r"\b(it|its|that|this|they|them|their|those|these)\b", re.I)
# Asking what a council did with the recommendations ("Did Derbyshire accept the recommendations?"), which
# the council's own documents tell, not for the recommendations themselves.
RESPONSE = re.compile(r"\b(accept\w*|implement\w*|respond\w*|response|progress|adopt\w*|complet\w*|agree\w*|"
                      r"act(?:ed)?\s+(?:on|upon)|follow(?:ed)?\s+up|carr(?:y|ied)\s+out|reject\w*)\b", re.I)
ELLIPTICAL = re.compile(r"^\s*(and\s+)?(what|how)\s+about\b|^\s*(and|what of|same for|same question for)\b", re.I)
# "Is it the same in Derby?", "Is that true of Derby too?": the previous question, asked of another council.
SAME_FOR_ANOTHER = re.compile(r"\b(?:the\s+same|similar(?:ly)?|too|as\s+well|likewise)\b"
                              r"|\b(?:that|this|it)\s+(?:\w+\s+)?also\b", re.I)
# "Which one is in a better position?", "Compare them": the councils of the last few questions, compared.
COMPARE_THEM = re.compile(r"\bcompar\w*|\bdiffer\w*|\bcontrast\w*|\bversus\b", re.I)
WHICH_ONE = re.compile(r"\bwhich\s+(?:one|of\s+(?:them|the\s+two|those|these))\b", re.I)
# "Which of those are about finance?" after a list: a question about the items just listed.
WHICH_OF_THEM = re.compile(r"\b(?:which|any|how\s+many|some|all|none|one|each)\s+of\s+(?:them|those|these)\b", re.I)
YEAR_OF_REPORT = re.compile(
    r"\b(20\d\d)\s+(?:corporate\s+)?(?:report|peer|review|challenge|visit|press release|web ?page|news)"
    r"|\b(?:report|review|challenge|visit|published|release|page|story)\s+(?:in|of|from|dated)\s+(20\d\d)\b",
    re.I,
)
# What a question asks for, read from its opening words. An answer without a figure does not answer
# "how much", one without a date does not answer "when", one that names no one does not answer "who".
EXPECTS = (
    # Also "Derby pledges - how many areas…?", "What did the bus station cost?" and "Derby bus station cost?".
    ("number", re.compile(r"(?:^|[-–—:;]\s)\s*(?:by\s+)?how (?:much|many|big|large|long)\b"
                          r"|^\s*what (?:share|percentage|proportion|amount|number|size|level|sum|cost|value|rate)\b"
                          r"|^\s*what\s+(?:did|does|do|will|would)\b[^?]*\bcost\W*$|\b(?:cost|price)\W*$"
                          r"|\bpercentage\b|\bper\s?cent\b", re.I)),
    ("date", re.compile(r"^\s*(?:when|how often|what (?:year|date|month|day))\b|^\s*in what year\b"
                        r"|^\s*what (?:was|were|is|are) the (?:dates?|years?|months?|days?)\b", re.I)),
    # "Which energy company…?", "Which firm's work…?": a body's name, not the council asked about; "Which
    # Derby cabinet member…?": a person's.
    ("name", re.compile(r"^\s*who(?:m)?\b|^\s*which\s+(?:\w+\s+)?(?:company|companies|firm|firms|business|"
                        r"businesses|supplier|suppliers|consultants?|consultancy|provider|providers|charity|"
                        r"organi[sz]ations?|cabinet members?|councillors?|officers?|directors?|chairs?|"
                        r"portfolio holders?)\b", re.I)),
)
# "What did the peer team say about …": words that frame the question, not its topic. Searched for, they
# rank the passages about the peer team and the peer challenge itself above those on the topic.
FRAMING = re.compile(
    r"^\s*(?:what|how)\s+(?:did|do|does|have|has|had)\s+(?:the\s+)?(?:lga\s+)?(?:peers?|peer team|peer challenge team|"
    r"team|reports?|reviewers?|peer review|feedback report)\s+(?:say|said|find|found|think|thought|conclude|note|"
    r"write|comment|observe|make of)\w*\s+(?:about|on|of|regarding)\s+",
    re.I,
)
# Asking for the peers' verdict as a whole ("What were the key findings?", "Summarise the report", "What
# did peers praise?"), which a report's executive summary gives.
VERDICT = re.compile(
    r"\b(summar(?:y|ise|ize)|overall|verdict|conclusions|findings|strengths?|weakness(?:es)?|praised?|"
    r"positives|negatives|critici[sz](?:ed|ms?)|wrong)\b",
    re.I,
)
# How a question or a request opens; a query opening otherwise is a list of keywords ("Derby taxi licensing").
ASKING = re.compile(
    r"^\W*(?:what|which|who|whom|whose|how|why|when|where|is|are|was|were|does|do|did|has|have|had|can|could|"
    r"should|would|will|shall|must|may|list|name|summari[sz]e|describe|explain|tell|give|show|compare|find|outline"
    r"|according|in what|to what|and)\b",
    re.I,
)
# A financial year such as 2019/20 names the period a figure is for.
FINANCIAL_YEAR = re.compile(r"\b20\d\d\s*[/–-]\s*(?:20)?\d\d\b")
KIND_WORDS = {
    "press release": ("press release", "press statement"),
    "web page": ("web page", "webpage", "website", "web site", "challenge page", "council page", "council's page"),
    "news story": ("news story", "news item", "news article"),
    "peer challenge report": ("feedback report", "full report"),
}


@dataclass(frozen=True)
class Council:
    name: str
    aliases: tuple[str, ...]


@dataclass
class Scope:
    """The resolved reading of a question, shown to the user as 'filters applied'."""

    question: str  # what was typed
    query: str  # what retrieval searches for (follow-ups resolved)
    councils: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    comparison: bool = False
    recommendations: bool = False
    themes: list[str] = field(default_factory=list)
    ambiguous: bool = False  # names no council but talks about "the council": ask which
    inferred: bool = False  # councils came from the conversation, not the question
    follow_up: bool = False  # the query carries the previous question, in brackets, for what "it" or "they" is
    expects: str = ""  # what the answer must give: "number", "date", "name", or "" for anything
    periods: list[str] = field(default_factory=list)  # financial years the question names, e.g. "2019/20"
    verdict: bool = False  # asks for the peers' verdict as a whole (VERDICT)
    team: bool = False  # asks who was on a peer team (TEAM)

    def describe(self) -> str:
        parts = []
        if self.councils:
            parts.append("council: " + " + ".join(self.councils) + (" (from the conversation)" if self.inferred else ""))
        if self.kinds:
            parts.append("kind: " + ", ".join(self.kinds))
        if self.years:
            parts.append("year: " + ", ".join(map(str, self.years)))
        if self.comparison:
            parts.append("side-by-side comparison")
        if self.recommendations:
            parts.append("recommendations" + (" on " + ", ".join(self.themes) if self.themes else ""))
        if self.team:
            parts.append("peer team members")
        if self.query != self.question:
            parts.append(f"read as: “{self.query}”")
        return "; ".join(parts) if parts else "no filters (all documents)"


def place_name(council: str) -> str:
    """'Derby City Council' -> 'Derby'; 'Derbyshire County Council' -> 'Derbyshire'."""
    name = re.sub(r"\s+Council$", "", council)
    for kind in sorted(COUNCIL_TYPES, key=len, reverse=True):
        name = re.sub(rf"\s+{kind}$", "", name)
    return name.strip()


def council_type(council: str) -> str | None:
    for kind in sorted(COUNCIL_TYPES, key=len, reverse=True):
        if re.search(rf"\b{kind} Council$", council):
            return kind.lower()
    return None


def build_councils(names: Iterable[str], texts_by_council: dict[str, str] | None = None) -> list[Council]:
    """Aliases for each council: full name, name without 'Council', place name, 'the city council' when
    only one city council is indexed, and acronyms each council's own documents define, like '(DCC)'."""
    names = sorted(set(names))
    types = [council_type(n) for n in names]
    councils = []
    for name, kind in zip(names, types):
        aliases = {name, re.sub(r"\s+Council$", "", name), place_name(name)}
        if kind and types.count(kind) == 1:
            aliases |= {f"the {kind} council", f"{kind} council"}
            if kind in ("city", "county"):
                aliases.add(f"the {kind}")
        text = (texts_by_council or {}).get(name, "")
        for acronym in re.findall(rf"{re.escape(name)}\s*\(([A-Z]{{2,6}})\)", text):
            aliases.add(acronym)
        councils.append(Council(name, tuple(sorted(aliases, key=len, reverse=True))))
    # An alias claimed by two councils identifies neither.
    claimed: dict[str, int] = {}
    for council in councils:
        for alias in council.aliases:
            claimed[alias.lower()] = claimed.get(alias.lower(), 0) + 1
    return [Council(c.name, tuple(a for a in c.aliases if claimed[a.lower()] == 1)) for c in councils]


def alias_pattern(alias: str) -> re.Pattern:
    flags = 0 if alias.isupper() else re.I  # acronyms only in capitals
    return re.compile(rf"(?<![\w-]){re.escape(alias)}(?:['’]s)?(?![\w-])", flags)


# A council's name as written, with its kind: "Nottingham City Council", "Derbyshire Dales District Council".
# (Without one, "Enterprising Council" and "One Council" are more often ideas than councils.)
COUNCIL_NAME = re.compile(rf"(?<![\w'’-])(?:[A-Z][\w-]*\s+)+(?:{'|'.join(COUNCIL_TYPES)})\s+Council\b")


def other_councils(text: str, councils: list[Council]) -> list[tuple[tuple[int, int], str]]:
    """The names of councils not indexed in the text, with where they stand ("Nottingham City Council"):
    their "City Council" is not the indexed city council's alias. A name ending in an indexed council's
    place and kind is that council's ("Did Derby City Council…")."""
    kinds = {w for kind in COUNCIL_TYPES for w in kind.split()}
    found = []
    for m in COUNCIL_NAME.finditer(text):
        name = m.group(0).split()
        while len(name) > 1 and name[0].lower() in OPENERS:  # "Did Nottingham City Council…"
            name.pop(0)
        words = name[:-1]
        kind = []
        while words and words[-1] in kinds:
            kind.insert(0, words.pop())
        place = " ".join(words)
        # "What Did Peers Say About Derby City Council…?" ends in Derby's place and kind.
        if place and not any(re.search(rf"(?<!\S){re.escape(place_name(c.name))}$", place, re.I)
                             and " ".join(kind).lower() == council_type(c.name) for c in councils):
            found.append((m.span(), " ".join(name)))
    return found


def find_councils(text: str, councils: list[Council]) -> list[str]:
    """Councils named in the text, in order of first mention; "City Council" in "Bradford City Council"
    names none of them."""
    others = [span for span, _ in other_councils(text, councils)]
    found: list[tuple[int, str]] = []
    for council in councils:
        positions = [m.start() for alias in council.aliases for m in alias_pattern(alias).finditer(text)
                     if not any(start <= m.start() < end for start, end in others)]
        if positions:
            found.append((min(positions), council.name))
    return [name for _, name in sorted(found)]


# A name as a question gives it: capitalised words, which "of", "for" or "&" may join ("Director of Public
# Health"), or a phrase in quotation marks.
NAME = re.compile(r"[A-Z][\w'’-]*(?:\s+(?:(?:of|for|&)\s+)?[A-Z][\w'’-]*)*|[\"“‘]([^\"”’]{3,60})[\"”’]")
ACRONYM = re.compile(r"^[A-Z]{2,}\s+|\s+[A-Z]{2,}$")  # "LGA Principal Adviser" is two names
# Words a question starts with that are not part of a name: "Which Chinese city…?".
OPENERS = frozenset("""what which who whom whose when where why how is are was were do does did can could should would
will has have had list name give tell summarise summarize describe explain show compare according in on for
at the a an and but so then please""".split())


def names_asked(question: str, councils: list[Council]) -> list[str]:
    """The names a question gives that are specific enough that reports not mentioning them cannot answer
    it: two or more capitalised words ("Vision Derbyshire", "Director of Public Health"), a word with a
    figure ("COVID-19"), or a quoted phrase. A lone capitalised word may be an adjective or an example
    ("Chinese", "Twitter"), and an acronym may be spelt out in the reports ("SEND"), so neither counts.
    A council's name ends a name where it is possessive, the full name ("Derby's Council House") or the
    query's last word ("Thriving Communities Derbyshire");
    a short one inside a name stays part of it ("the Derby Plan"). A question written in capitals
    throughout names nothing this way. So does a council not indexed ("Nottingham City Council")."""
    others = [name for _, name in other_councils(question, councils)]
    for name in others:
        question = question.replace(name, " , ")
    # "Thriving Communities Derbyshire": a keyword query ends with the council to search, not a name's last word.
    for alias in sorted({a for c in councils for a in c.aliases}, key=len, reverse=True):
        question = alias_pattern(alias).sub(
            lambda m: " , " if (m.group(0)[-2:] in ("'s", "’s") or " " in alias
                                or not re.search(r"\w", m.string[m.end():])) else m.group(0), question)
    first = re.match(r"\W*([A-Za-z][\w'’-]*)(\s+[A-Z])?", question)
    # "What's Derbyshire doing…?": the opener with its "is" or "has" is still the opener.
    if first and (re.sub(r"['’][a-z]+$", "", first.group(1).lower()) in OPENERS or not first.group(2)):
        question = " , " + question[first.end(1):]
    # "the LGA-led review": a word made with a lower-case part describes, it does not name.
    question = re.sub(r"\b[A-Z][\w'’]*-[a-z][\w'’-]*", " , ", question)
    words = re.findall(r"[A-Za-z][\w'’-]*", question)
    if sum(w[0].isupper() for w in words) > max(3, len(words) // 2):
        return []
    council_words = {w.lower() for c in councils for a in c.aliases for w in a.split()} | {"of", "for", "&"}
    names = []
    for m in NAME.finditer(question):
        if m.group(1):
            if re.search(r"\w", m.group(1)):
                names.append(m.group(1).strip())
            continue
        for name in ACRONYM.sub(" , ", re.sub(r"['’]s$", "", m.group(0))).split(" , "):
            # "the Leader of Derbyshire" is the council's Leader, whom the reports call "Leader".
            name = re.sub(r"\s+(?:of|for|&)\s+(\S+)$",
                          lambda end: "" if end.group(1).lower() in council_words else end.group(0), name.strip())
            # "Derbyshire HS2" is HS2 in Derbyshire, and "the Derby Leader" the council's Leader: a council
            # before a code or a post names where, not what.
            name = re.sub(r"^(\S+)\s+(?=\S*\d\S*$|(?:Deputy\s+)?(?:Leader|Mayor|Chief\s+Executive|Cabinet)$)",
                          lambda start: "" if start.group(1).lower() in council_words else start.group(0), name)
            if (" " in name or re.search(r"\d", name)) and not set(name.lower().split()) <= council_words:
                names.append(name)
    return others + names


# Asking how a council responded to its peer challenge, which its own documents tell, not the report.
RESPONSE_TO_REPORT = re.compile(
    r"\b(?:respon(?:d|ds|ded|se|ses)|react(?:ed|ion)?|repl(?:y|ied))\s+(?:to\s+)?(?:the\s+|its\s+|their\s+)?"
    r"(?:lga['’]?s?\s+|peers['’]?\s+|peer\s+)?"
    r"(?:report|review|challenge|peer challenge|findings|recommendations|feedback)\b",
    re.I,
)


def find_kinds(text: str) -> list[str]:
    """The document kinds a question names ("Derby's press release"); asking how a council responded to
    the report names its own documents, every kind but the report."""
    lowered = text.lower().replace("’", "'")
    named = [kind for kind, words in KIND_WORDS.items() if any(w in lowered for w in words)]
    if not named and RESPONSE_TO_REPORT.search(text):
        return [kind for kind in KIND_WORDS if "report" not in kind]
    return named


def find_themes(text: str) -> list[str]:
    words = set(re.findall(r"[a-z][a-z-]+", text.lower()))
    lowered = text.lower()
    themes = []
    for theme, keys in THEMES.items():
        if any((k in lowered) if " " in k else (k in words) for k in keys):
            themes.append(theme)
    return themes


def replace_councils(text: str, old: list[str], new: list[str], councils: list[Council]) -> str:
    """The previous question with its council swapped for the new one ('what about Derbyshire?')."""
    by_name = {c.name: c for c in councils}
    for name in old:
        for alias in by_name[name].aliases if name in by_name else ():
            text = alias_pattern(alias).sub(" and ".join(new), text)
    return text


def analyse(question: str, councils: list[Council], history: list[Scope] | None = None) -> Scope:
    """Read a question (and the conversation so far) into a Scope."""
    named = find_councils(question, councils)
    scope = Scope(question=question, query=question.strip(), councils=named, kinds=find_kinds(question))
    scope.years = sorted({int(y) for pair in YEAR_OF_REPORT.findall(question) for y in pair if y})
    previous = history[-1] if history else None

    if previous and named and previous.councils and set(named) - set(previous.councils) \
            and COMPARISON.search(question) and BACK_REFERENCE.search(question):
        # "How does that compare with Derby?" after a question on Derbyshire: both councils, on its topic.
        scope.councils = list(dict.fromkeys(previous.councils + named))
        scope.query = f"How do {' and '.join(scope.councils)} compare on {subject(previous.query, councils)}?"
    elif previous and named and previous.councils and (
            ELLIPTICAL.match(question) or len(question.split()) <= 4
            or (SAME_FOR_ANOTHER.search(question) and set(named) - set(previous.councils))):
        # "what about Derbyshire?": the previous question's topic, asked of the newly named council.
        scope.query = replace_councils(previous.query, previous.councils, named, councils)
        if scope.query == previous.query:
            scope.query = f"{previous.query} ({', '.join(named)})"
        scope.recommendations = previous.recommendations
        scope.themes = previous.themes
    elif previous and not named and not previous.comparison and len(question.split()) <= 8 and len(
            recent := list(dict.fromkeys(c for earlier in history[-3:] for c in earlier.councils))) >= 2 and (
            COMPARE_THEM.search(question) or (WHICH_ONE.search(question) and MORE_OR_LESS.search(question))):
        # "Compare them" or "Which one is in a better position?" after questions on Derby, then Derbyshire.
        scope.councils = recent
        scope.query = f"How do {' and '.join(recent)} compare on {subject(previous.query, councils)}?"
    elif previous and not named and previous.councils and len(councils) > 1:
        # "and what did they recommend?": same councils as before.
        scope.councils = list(previous.councils)
        scope.inferred = scope.follow_up = True
        # The previous question says what "they" or "that" refers to.
        scope.query = f"{question.strip()} ({previous.query})"
    elif previous and not named and BACK_REFERENCE.search(question):
        # "When was it launched?" after "What is the Enterprising Council?", which named no council.
        scope.follow_up = True
        scope.query = f"{question.strip()} ({previous.query})"

    if ALL_COUNCILS.search(question):
        scope.councils = [c.name for c in councils]
    elif not scope.councils and len(councils) > 1 and ASKS_WHICH_COUNCIL.search(question) \
            and MORE_OR_LESS.search(question):
        # "Which council is more commercially minded?": each council's evidence, for the reader to weigh; the
        # model, given both, asserts comparisons that no one passage supports.
        scope.councils = [c.name for c in councils]
        asked = re.sub(r"^\W*(?:is|are|was|were|has|have|had|does|do|did|gets?|got)\s+", "",
                       MORE_OR_LESS.sub(" ", ASKS_WHICH_COUNCIL.sub(" ", question)).strip(), flags=re.I)
        scope.query = f"How do {' and '.join(scope.councils)} compare on {subject(asked, councils)}?"
    if len(scope.councils) >= 2 or (COMPARISON.search(question) and len(scope.councils) >= 2):
        scope.comparison = True
    if PEER_RECOMMENDATIONS.search(question) and not OTHER_RECOMMENDER.search(question) \
            and not ASKS_WHO_OR_WHEN.match(question) and not RESPONSE.search(question):
        scope.recommendations = True
        scope.themes = find_themes(re.sub(RECOMMENDATION, " ", question))
        if not scope.themes and scope.follow_up:
            # "What did peers say about Derby's workforce?" then "and what did they recommend?"
            scope.themes = find_themes(topic(previous.query))
    elif previous and previous.recommendations and WHICH_OF_THEM.search(question):
        # "Which of those are about finance?" after the recommendations were listed.
        scope.recommendations = True
        scope.themes = find_themes(question) or previous.themes
    scope.ambiguous = (
        not scope.councils and len(councils) > 1 and bool(SINGULAR_REFERENCE.search(question))
        and not ASKS_WHICH_COUNCIL.search(question)
    )
    # A follow-up's query carries the previous question in brackets, as context for retrieval; what the
    # answer must give comes from the question itself, or from the rewritten one ("what about Derbyshire?").
    asked = question if scope.query.startswith(question.strip()) else scope.query
    scope.expects = next((kind for kind, pattern in EXPECTS if pattern.search(asked)), "")
    scope.periods = [financial_year(m) for m in FINANCIAL_YEAR.findall(asked)]
    scope.verdict = bool(VERDICT.search(asked))
    # "Which of them were councillors?" after "Who was on the Derby peer team?" asks about the same team.
    scope.team = bool(TEAM.search(asked)) or bool(
        previous and previous.team and not scope.recommendations and ABOUT_THEM.search(question))
    return scope


def strip_councils(query: str, councils: list[Council]) -> str:
    for council in councils:
        for alias in council.aliases:
            query = alias_pattern(alias).sub(" ", query)
    return query


def subject(query: str, councils: list[Council]) -> str:
    """What a question asks about, without its framing or the councils: "What did peers say about
    scrutiny in Derbyshire?" gives "scrutiny"."""
    asked = re.sub(r"^\W*(?:what|how|which|who|why|when|where)\s+(?:is|are|was|were|do|does|did|has|have)\s+",
                   "", topic(query), flags=re.I)
    text = strip_councils(asked, councils)
    return re.sub(r"^(?:\W|\b(?:in|at|of|for|on|by|the)\b)+|(?:\W|\b(?:in|at|of|for|on|by|the)\b)+$", "", text) or query


def without_kinds(text: str, kinds: list[str]) -> str:
    """The text without the words naming the given document kinds ("press release"), or asking for them
    ("in response to the report")."""
    for kind in kinds:
        for words in KIND_WORDS.get(kind, ()):
            text = re.sub(rf"\b{re.escape(words)}s?\b", " ", text, flags=re.I)
    return RESPONSE_TO_REPORT.sub(" ", text) if kinds else text


# Words asking for the answer's shape ("in three points", "briefly") or for an event as such ("When did the
# peer challenge take place?"): no passage is about them.
SHAPE = re.compile(
    r"\b(?:in|as|using)\s+(?:a\s+)?(?:few|one|two|three|four|five|six|\d+)\s+(?:short\s+)?(?:bullet\s+)?"
    r"(?:points?|sentences?|bullets?|words|lines|paragraphs?)\b|\b(?:briefly|please)\b|\bin\s+(?:brief|short)\b"
    r"|\b(?:take|takes|took|taking|taken)\s+place\b|\bhappen(?:s|ed|ing)?\b",
    re.I,
)


def topic(question: str) -> str:
    """The question without the words that frame it: "What did peers say about Derby's accounts?" gives
    "Derby's accounts?", and "When did the peer challenge take place?" gives "When did the peer challenge?"."""
    shaped = re.sub(r"^[\s,;:]+", "", SHAPE.sub(" ", question))
    return re.sub(r"\s+", " ", FRAMING.sub("", shaped)).strip() or question


def as_question(query: str) -> str:
    """The query as a question for the language model: given keywords alone ("DORIS performance system"),
    the 1.5B model wrote about other parts of the passages instead of what they say about the keywords."""
    if query.rstrip().endswith("?") or ASKING.match(query):
        return query
    return f"What do the reports say about {query.strip().rstrip('.')}?"


def financial_year(text: str) -> str:
    """'2019-2020', '2019/20' and '2019 – 20' all give '2019/20'."""
    start, end = re.split(r"\s*[/–-]\s*", text)
    return f"{start}/{end[-2:]}"
