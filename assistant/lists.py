"""Lists a report introduces with a colon ("…including the Super Six pledges of:"), read whole from the
document, so a question asking for one gets every item, each cited, not the one item a model picks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.retrieval import SENTENCE_BREAK

# A paragraph ending in a colon, a blank line, then list items (the cleaner writes bullets as "- ").
LIST = re.compile(r"(?m)^(?P<intro>[^\n]*:)[ \t]*\n\n(?P<items>(?:(?:[-*]|\d+[.)]) [^\n]*(?:\n|$))+)")
ITEM = re.compile(r"(?m)^(?:[-*]|\d+[.)]) (.*)$")
SHORT_INTRO = 5  # words


@dataclass
class ReportList:
    intro: str  # the sentence ending in the colon, with the one before if it is short ("These include:")
    items: list[tuple[int, int]]  # where each item's text (without its bullet) is in the document text


def lists_in(text: str, start: int, end: int) -> list[ReportList]:
    """The lists whose introduction ends, or whose items start, within text[start:end]."""
    found = []
    for match in LIST.finditer(text):
        if start <= match.end("intro") - 1 < end or start <= match.start("items") < end:
            sentences = SENTENCE_BREAK.split(match.group("intro").strip())
            # "These include:" says what the list is only with the sentence before it.
            intro = " ".join(sentences[-2:] if len(sentences[-1].split()) < SHORT_INTRO else sentences[-1:])
            items = [item.span(1) for item in ITEM.finditer(text, match.start("items"), match.end("items"))]
            found.append(ReportList(intro, [(a, b) for a, b in items if text[a:b].strip()]))
    return found
