"""The peer team each report lists ("The peers who delivered the peer challenge at … were:"), one passage
a peer, so "who was on the peer team?" gets the whole list, each line cited."""

from __future__ import annotations

import math
import re

from assistant.chunking import Chunk
from assistant.retrieval import tokenize

# LGA feedback reports introduce their team with one of these; the list follows on the next lines.
INTRODUCTION = re.compile(
    r"(?:peers who delivered the (?:corporate )?peer (?:challenge|review)[^:\n]{0,80}?\s+were"
    r"|\bthe peer team (?:was|were|comprised|consisted of|included))\s*:[ \t]*\n",
    re.I,
)
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)
# A line of the list names one peer with their post; a longer line is prose after the list.
MOST_WORDS = 25


def extract(doc) -> list[Chunk]:
    """The peers one indexed document (a store.DocumentRecord) lists, in its order, one line each; [] if it
    lists none."""
    found = INTRODUCTION.search(doc.text)
    if not found:
        return []
    headings = [h.group(1).strip() for h in HEADING.finditer(doc.text, 0, found.start())]
    peers = []
    offset = found.end()
    for line in doc.text[found.end():].splitlines(keepends=True):
        start = offset
        offset += len(line)
        if not line.strip():
            if peers:
                break
            continue
        if HEADING.match(line) or len(line.split()) > MOST_WORDS:
            break
        bullet = LIST_ITEM.match(line)
        start += bullet.end() if bullet else len(line) - len(line.lstrip())
        end = start + len(doc.text[start:offset].rstrip())
        peers.append(doc.excerpt(start, end, f"{doc.doc_id}@peer{start}", headings[-1] if headings else ""))
    return peers


def words_of(peer: Chunk) -> set[str]:
    return set(tokenize(peer.text)) | ({"councillor"} if re.search(r"\bCllr\b", peer.text) else set())


def unlisted(peers: list[Chunk], terms: set[str]) -> set[str]:
    """The question's words that no peer's line holds ("finance" in "the finance director")."""
    return terms - set().union(*map(words_of, peers))


def matching(peers: list[Chunk], terms: set[str]) -> tuple[list[Chunk], bool]:
    """The peers whose lines hold most of the question's (stemmed) words that tell peers apart ("the
    People director"), and whether any word did; else all peers. A word in more than half the lines
    ("council") tells no one apart."""
    words = [words_of(p) for p in peers]
    telling = [t for t in sorted(terms) if 0 < sum(t in w for w in words) <= len(peers) / 2]
    if not telling:
        return peers, False
    weight = {t: math.log(len(peers) / sum(t in w for w in words)) + 1 for t in telling}
    scores = [sum(weight[t] for t in telling if t in w) for w in words]
    return [p for p, s in zip(peers, scores) if s == max(scores)], True
