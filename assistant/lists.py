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
# What a list is of is named just before its colon ("…indicators that might be expected such as:"), not
# earlier in a long sentence ("…the Council Plan has … as a priority area…").
SUBJECT_WORDS = 12
# "These are the areas…:" and "These include:" name the list by the sentence before them.
POINTS_BACK = re.compile(r"^(these|this|they|those|it|such)\b", re.I)


@dataclass
class ReportList:
    intro: str  # the sentence ending in the colon, with the one before when it points back ("These include:")
    subject: str  # the words saying what the list is of
    items: list[tuple[int, int]]  # where each item's text (without its bullet) is in the document text


def lists_in(text: str, start: int, end: int) -> list[ReportList]:
    """The lists whose introduction ends, or whose items start, within text[start:end]."""
    found = []
    for match in LIST.finditer(text):
        if start <= match.end("intro") - 1 < end or start <= match.start("items") < end:
            *before, last = SENTENCE_BREAK.split(match.group("intro").strip())
            subject = " ".join(last.split()[-SUBJECT_WORDS:])
            intro = last
            if before and (len(last.split()) < SHORT_INTRO or POINTS_BACK.match(last)):
                intro = f"{before[-1]} {last}"
                subject = f"{before[-1]} {subject}"
            items = [item.span(1) for item in ITEM.finditer(text, match.start("items"), match.end("items"))]
            found.append(ReportList(intro, subject, [(a, b) for a, b in items if text[a:b].strip()]))
    return found
