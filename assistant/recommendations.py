"""Key recommendations pulled out of each report at index time, so lists are complete, not top-k luck."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from assistant.cleaning import CleanText
from assistant.scope import THEMES

SECTION = re.compile(r"^(#{1,6})\s+(?:\d+\.?\s*)?(?:the\s+)?(?:peer team['’]s\s+)?key recommendations\b.*$", re.I | re.M)
HEADING = re.compile(r"^(#{1,6})\s+", re.M)
TOP_ITEM = re.compile(r"^(?:(\d+)[.)]\s+|[-*•]\s+)(.*)$")
FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)")


@dataclass
class Recommendation:
    council: str
    doc_id: str
    title: str
    date: str
    source_path: str
    section: str
    number: int
    headline: str  # the recommendation in one sentence
    text: str  # all of it, as written (exactly clean_text[start:end])
    theme: str
    start: int
    end: int
    line_start: int
    line_end: int


def theme_of(text: str) -> str:
    """The peer-challenge theme whose keywords the recommendation uses most (ties: the first theme)."""
    lowered = text.lower()
    words = re.findall(r"[a-z][a-z-]+", lowered)
    def hits(keys: tuple[str, ...]) -> int:
        return sum(lowered.count(k) if " " in k else words.count(k) for k in keys)
    return max(THEMES, key=lambda theme: hits(THEMES[theme]))


def section_span(text: str) -> tuple[int, int] | None:
    """Where the key recommendations section of a cleaned report starts and ends."""
    match = SECTION.search(text)
    if not match:
        return None
    level = len(match.group(1))
    for heading in HEADING.finditer(text, match.end()):
        if len(heading.group(1)) <= level:
            return match.end(), heading.start()
    return match.end(), len(text)


def extract(doc) -> list[Recommendation]:
    """Recommendations of one indexed document (a store.DocumentRecord): top-level list items of its
    key recommendations section, each with its sub-items and any paragraph that continues it."""
    span = section_span(doc.text)
    if span is None:
        return []
    section = SECTION.search(doc.text).group(0).lstrip("#").strip()
    clean = CleanText(doc.text, [tuple(p) for p in doc.line_map])
    items: list[list[int]] = []  # [start, end] of each recommendation
    offset = span[0]
    for line in doc.text[span[0]:span[1]].splitlines(keepends=True):
        start, end = offset, offset + len(line.rstrip())
        offset += len(line)
        if not line.strip():
            continue
        if not line[0].isspace() and TOP_ITEM.match(line.rstrip()):
            items.append([start, end])
        elif items:
            items[-1][1] = end  # sub-item or continuation paragraph
    records = []
    for number, (start, end) in enumerate(items, 1):
        body = doc.text[start:end]
        first = TOP_ITEM.match(body.splitlines()[0])
        explicit = first.group(1)
        content = re.sub(r"\s+", " ", first.group(2)).strip()
        headline = FIRST_SENTENCE.match(content)
        records.append(Recommendation(
            council=doc.council, doc_id=doc.doc_id, title=doc.title, date=doc.date,
            source_path=doc.source_path, section=section,
            number=int(explicit) if explicit else number,
            headline=(headline.group(1) if headline else content).strip(),
            text=body, theme=theme_of(body), start=start, end=end,
            line_start=clean.line_at(start), line_end=clean.line_at(end - 1),
        ))
    return records


def extract_all(documents: list) -> list[dict]:
    return [asdict(r) for doc in documents for r in extract(doc)]
