"""Key recommendations pulled out of each report at index time, so lists are complete, not top-k luck."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

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
    themes: list[str]  # the main theme first, then others it clearly touches
    start: int
    end: int
    line_start: int
    line_end: int


def theme_hits(text: str) -> dict[str, int]:
    """How many of each peer-challenge theme's keywords a recommendation uses."""
    lowered = text.lower()
    words = re.findall(r"[a-z][a-z-]+", lowered)
    return {theme: sum(lowered.count(k) if " " in k else words.count(k) for k in keys)
            for theme, keys in THEMES.items()}


def themes_of(text: str) -> tuple[str, list[str]]:
    """The main theme (most keywords; ties go to the first theme) and every theme it clearly touches."""
    hits = theme_hits(text)
    main = max(hits, key=hits.get)
    return main, [t for t, n in hits.items() if t == main or n >= 2]


def section_span(text: str) -> tuple[int, int] | None:
    """Where the key recommendations section of a cleaned report starts and ends (at the next heading:
    PDF extracts often demote the following section's title, so any heading ends the list)."""
    match = SECTION.search(text)
    if not match:
        return None
    following = HEADING.search(text, match.end())
    return match.end(), following.start() if following else len(text)


def extract(doc) -> list[Recommendation]:
    """Recommendations of one indexed document (a store.DocumentRecord): top-level list items of its
    key recommendations section, each with its sub-items and any paragraph that continues it."""
    span = section_span(doc.text)
    if span is None:
        return []
    section = SECTION.search(doc.text).group(0).lstrip("#").strip()
    items: list[list[int]] = []  # [start, end] of each recommendation
    top_kind = None  # "numbered" or "bullet": whichever the first item uses; the other kind is a sub-item
    offset = span[0]
    for line in doc.text[span[0]:span[1]].splitlines(keepends=True):
        start, end = offset, offset + len(line.rstrip())
        offset += len(line)
        if not line.strip():
            continue
        item = TOP_ITEM.match(line.rstrip()) if not line[0].isspace() else None
        kind = ("numbered" if item.group(1) else "bullet") if item else None
        top_kind = top_kind or kind
        if item and kind == top_kind:
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
        main, touched = themes_of(body)
        line_start, line_end = doc.line_span(start, end)
        records.append(Recommendation(
            council=doc.council, doc_id=doc.doc_id, title=doc.title, date=doc.date,
            source_path=doc.source_path, section=section,
            number=int(explicit) if explicit else number,
            headline=(headline.group(1) if headline else content).strip(),
            text=body, theme=main, themes=[main] + [t for t in touched if t != main], start=start, end=end,
            line_start=line_start, line_end=line_end,
        ))
    return records


def extract_all(documents: list) -> list[dict]:
    return [asdict(r) for doc in documents for r in extract(doc)]
