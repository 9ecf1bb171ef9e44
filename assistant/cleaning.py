"""Clean raw document text into simple Markdown, remembering where every piece came from.

The input is what a reader produced: PDF extracts with hard line wraps, page numbers
and lost bullet glyphs, or web-page text with navigation and share-button junk. The
output uses Markdown conventions a chunker can follow ("# " headings, "- " items, blank
lines between paragraphs), and `CleanText.line_map` maps every offset in it back to the
raw line it came from, so citations can point at the source.

Line numbers are 1-based and count "\\n" line breaks after "\\r\\n" and "\\r" became "\\n".
Words are never changed, except that a word split by a line-end hyphen is rejoined and
Markdown emphasis markers are removed.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace

# A paragraph line shorter than this share of the wrap width ends its paragraph (when it
# also ends a sentence): PDF extracts wrap at a fairly constant width.
SHORT_LINE_SHARE = 0.82
# Typical line lengths above this mean the text is not hard-wrapped: one line, one paragraph.
MAX_WRAP_WIDTH = 150

# "\uf0b7" and friends are Symbol/Wingdings bullets that PDF extraction leaves in the
# private use area. A hyphen or asterisk needs a space after it to be a bullet; an en dash
# is too often a sentence's dash carried onto the next line to count.
_GLYPHS = "•●▪◦‣∙○■□➢►▶✓✔·\uf0b7\uf0a7\uf0d8\uf0fc\uf076\uf0a8"
_BULLET = re.compile(rf"^(?:[{_GLYPHS}]\s*|[-*]\s+)(?=\S)")
_LONE_GLYPH = re.compile(rf"^[{_GLYPHS}]$")
_NUMBERED = re.compile(r"^\(?(?:\d{1,2}|[a-z])[.)]\s+\S")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(\S.*?)(?:\s+#+)?$")
_SECTION = re.compile(r"^(\d{1,2})\.\s+(\S.*)$")
_SUBSECTION = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){1,2})\.?\s+([A-Z].*)$")
# "7", " 12.", "Page 3", "Page 3 of 12", "- 4 -"; group 1 is a bare number that may be a section's.
_PAGE_NUMBER = re.compile(
    r"^(?:(\d{1,3})\.?|page \d{1,3}(?: of \d{1,3})?|[-–] ?\d{1,3} ?[-–])$", re.IGNORECASE
)
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]*")
# Words a line that stops mid-phrase ends with: the next line's capital continues a name.
_LINKING_WORDS = frozenset("a an the of at to and or for with by in on from as into its their our your".split())
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'”’)\]]*$")
_ENDS_STATEMENT = re.compile(r"[.!?][\"'”’)\]]*$")
_SPLIT_WORD = re.compile(r"[A-Za-z]-$")
_EMPHASIS = [
    re.compile(r"(?<!\w)__(\S(?:.*?\S)?)__(?!\w)"),
    re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"),
]
_SKIP_LINK = re.compile(r"skip to (?:the )?(?:main )?content", re.IGNORECASE)
_SHARE_LINE = re.compile(
    r"^(?:share(?: this)?(?: story| page| article| post)?|share on \w+|follow us(?: on \w+)?"
    r"|print(?: this)?(?: page| story)?|email this(?: page| story)?|tweet this)\s*:?$",
    re.IGNORECASE,
)
# Words that make up icon names and interface labels on scraped web pages.
_UI_WORDS = {
    "alert", "close", "icon", "fill", "copy", "untitled", "menu", "group", "page", "skip",
    "to", "content", "main", "search", "toggle", "navigation", "open", "logo", "arrow",
    "chevron", "tt", "-", "×", "share", "print", "email", "facebook", "twitter", "linkedin",
}  # fmt: skip


@dataclass
class CleanText:
    text: str  # cleaned text, Markdown-like
    line_map: list[tuple[int, int]]  # sorted (offset in text, 1-based line number in the original)
    _offsets: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._offsets = [offset for offset, _ in self.line_map]

    def line_at(self, offset: int) -> int:
        """The original line number that the character at `offset` of `text` came from."""
        if not self.line_map:
            return 1
        index = bisect.bisect_right(self._offsets, offset) - 1
        return self.line_map[max(index, 0)][1]

    def line_span(self, start: int, end: int) -> tuple[int, int]:
        """First and last original lines of the cleaned span text[start:end]."""
        return self.line_at(start), self.line_at(max(start, end - 1))


@dataclass
class _Line:
    number: int  # 1-based line number in the raw text
    text: str  # whitespace-normalised, emphasis removed
    section: _Line | None = None  # a "3." printed on its own line before this heading
    level: int = 0  # 1 for a top-level section heading found before the main pass


@dataclass
class _Block:
    kind: str  # "heading" | "item" | "row" | "para"
    marker: str  # printed before the first line: "# ", "- ", ...
    lines: list[_Line]


@dataclass
class _Layout:
    """How the text was wrapped, which decides where paragraphs and items end."""

    width: int
    common: frozenset[str] = frozenset()  # words the document also writes in lower case

    @property
    def wrapped(self) -> bool:
        return self.width <= MAX_WRAP_WIDTH

    @property
    def short(self) -> float:
        return min(self.width, MAX_WRAP_WIDTH) * SHORT_LINE_SHARE


def clean_text(raw: str) -> CleanText:
    """Clean raw document text into Markdown-like paragraphs, headings and list items."""
    lines = _without_junk(_source_lines(raw))
    layout = _Layout(_wrap_width(lines), frozenset(w for line in lines for w in _LOWER_WORD.findall(line.text)))
    lines = _resolve_section_numbers(lines, layout)
    return _render(_rejoin_broken_paragraphs(_blocks(lines, layout)))


def _source_lines(raw: str) -> list[_Line]:
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for number, line in enumerate(raw.split("\n"), start=1):
        text = " ".join(line.replace("**", "").split())
        for emphasis in _EMPHASIS:
            text = emphasis.sub(r"\1", text)
        lines.append(_Line(number, text))
    return lines


def _without_junk(lines: list[_Line]) -> list[_Line]:
    """Drop web-page navigation before a "Skip to content" link, icon labels and share buttons."""
    for index, line in enumerate(lines[:40]):
        match = _SKIP_LINK.search(line.text)
        if match:
            rest = line.text[match.end() :].strip(" -|")
            lines = ([replace(line, text=rest)] if rest else []) + lines[index + 1 :]
            break
    return [line for line in lines if not _is_interface_junk(line.text)]


def _is_interface_junk(text: str) -> bool:
    if _SHARE_LINE.match(text):
        return True
    words = text.lower().split()
    if len(words) < 3:
        return False
    ui = sum(word in _UI_WORDS or word.isdigit() or word.startswith("untitled-") for word in words)
    return ui == len(words) or (len(words) >= 6 and ui >= 0.8 * len(words))


def _wrap_width(lines: list[_Line]) -> int:
    """The width the text was wrapped at: a high percentile of its line lengths."""
    lengths = sorted(len(line.text) for line in lines if len(line.text) >= 20)
    return lengths[int(len(lengths) * 0.9)] if lengths else 80


def _resolve_section_numbers(lines: list[_Line], layout: _Layout) -> list[_Line]:
    """Mark top-level "N. Title" headings, attach numbers printed apart to their title, drop page numbers.

    A number alone on a line belongs to a heading when a title follows and the number
    continues the section sequence (1, 2, ...); otherwise it is a page number, dropped with
    the blank lines after it so that a paragraph or list broken by the page joins up again.
    """
    out: list[_Line] = []
    last_section = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        page_number = _PAGE_NUMBER.fullmatch(line.text)
        if page_number:
            after = _next_nonblank(lines, index + 1)
            title = lines[after] if after < len(lines) else None
            value = int(page_number.group(1) or 0)
            if title and last_section < value <= last_section + 2 and _is_title(title.text, max_words=10):
                last_section = value
                out.append(replace(title, section=_Line(line.number, f"{value}."), level=1))
                index = after + 1
            else:
                index = after
            continue
        section = _SECTION.fullmatch(line.text)
        if (
            section
            and last_section < int(section.group(1)) <= last_section + 2
            and _is_title(section.group(2), max_words=10)
            and _stands_apart(_text_before(lines, index), after_heading=False)
            and _text_follows(_text_after(lines, index), layout)
        ):
            last_section = int(section.group(1))
            line = replace(line, level=1)
        out.append(line)
        index += 1
    return out


def _next_nonblank(lines: list[_Line], index: int) -> int:
    while index < len(lines) and not lines[index].text:
        index += 1
    return index


def _text_before(lines: list[_Line], index: int) -> str:
    return lines[index - 1].text if index > 0 else ""


def _text_after(lines: list[_Line], index: int) -> str:
    return lines[index + 1].text if index + 1 < len(lines) else ""


def _is_title(text: str, max_words: int) -> bool:
    """Short, capitalised and not ending like a sentence or a clause: looks like a heading."""
    words = text.split()
    return (
        0 < len(words) <= max_words
        and len(text) <= 90
        and text[0].isupper()
        and text[-1] not in ".,;:!?"
        and not _BULLET.match(text)
    )


def _stands_apart(previous: str, after_heading: bool) -> bool:
    """A heading comes after a blank line, another heading or a finished sentence."""
    return not previous or after_heading or bool(_ENDS_STATEMENT.search(previous))


def _text_follows(following: str, layout: _Layout) -> bool:
    """A heading is followed by a blank line, a list, or a full-width line starting a paragraph."""
    return not following or bool(_BULLET.match(following)) or (
        len(following) >= layout.short and not following[0].islower()
    )


def _blocks(lines: list[_Line], layout: _Layout) -> list[_Block]:
    """Group lines into headings, list items, table rows and paragraphs."""
    blocks: list[_Block] = []
    current: _Block | None = None
    glyphless_list = False  # inside a list whose bullet glyphs were lost in extraction
    after_heading = False
    bullet_pending = False  # a bullet glyph stood alone on the line before
    index = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            blocks.append(current)
        current = None

    def start(kind: str, marker: str, line: _Line) -> None:
        nonlocal current
        close()
        current = _Block(kind, marker, [line])

    while index < len(lines):
        line = lines[index]
        previous = _text_before(lines, index)
        if not line.text:
            after = _next_nonblank(lines, index)
            # Extracted PDFs leave a run of empty lines where a list's bullet glyphs were.
            if previous.endswith(":") and after - index >= 2 and after < len(lines):
                glyphless_list = True
            elif after - index == 1:
                glyphless_list = False
            close()
            index = after
            continue
        following = _text_after(lines, index)
        index += 1
        if _LONE_GLYPH.match(line.text):
            bullet_pending = True
            continue

        heading = None
        if not bullet_pending:
            heading = _heading(line, previous, following, layout, after_heading, glyphless_list)
        after_heading = heading is not None
        if heading is not None or line.text.startswith("|"):  # a table row stands alone like a heading
            close()
            blocks.append(heading or _Block("row", "", [line]))
            glyphless_list = False
        elif bullet_pending or _BULLET.match(line.text):
            start("item", "- ", replace(line, text=_BULLET.sub("", line.text)))
            glyphless_list = bullet_pending = False
        elif _NUMBERED.match(line.text):
            start("item", "", line)
            glyphless_list = False
        elif current is None or _starts_new_block(current.lines[-1].text, line.text, layout, glyphless_list):
            if glyphless_list:
                start("item", "- ", line)
            else:
                start("para", "", line)
        else:
            current.lines.append(line)
    close()
    return blocks


def _heading(
    line: _Line, previous: str, following: str, layout: _Layout, after_heading: bool, in_list: bool
) -> _Block | None:
    if line.level == 1:
        return _Block("heading", "# ", [line.section, line] if line.section else [line])
    markdown = _MARKDOWN_HEADING.fullmatch(line.text)
    if markdown:
        level = min(len(markdown.group(1)), 3)
        return _Block("heading", "#" * level + " ", [replace(line, text=markdown.group(2))])
    subsection = _SUBSECTION.fullmatch(line.text)
    if subsection and len(line.text.split()) <= 15 and line.text[-1] not in ".,;":
        level = min(subsection.group(1).count(".") + 1, 3)
        return _Block("heading", "#" * level + " ", [line])
    if (
        not in_list
        and _is_title(line.text, max_words=8)
        and _stands_apart(previous, after_heading)
        and _text_follows(following, layout)
    ):
        return _Block("heading", "### ", [line])
    return None


def _starts_new_block(previous: str, text: str, layout: _Layout, glyphless_list: bool) -> bool:
    """Whether `text` starts a new paragraph (or list item) rather than continuing `previous`."""
    if not layout.wrapped:
        return not (text[0].islower() and not _ENDS_SENTENCE.search(previous))
    if glyphless_list:
        # An item ends on a short line. After a full-width line with no full stop, a capital starts the
        # next item when the word is one the document also writes in lower case and the line did not
        # stop mid-phrase ("…judged to be good by Ofsted" / "Improving educational attainment…");
        # otherwise it is a wrapped proper noun ("…centre at" / "Infinity Park Hub"), or the next
        # sentence of the same item.
        if not text[0].isupper() or previous.endswith((",", "-")):
            return False
        if len(previous) < layout.short:
            return True
        first = text.split()[0].lower()
        last = previous.split()[-1].lower()
        return first in layout.common and last not in _LINKING_WORDS and not _ENDS_SENTENCE.search(previous)
    return len(previous) < layout.short and bool(_ENDS_SENTENCE.search(previous))


def _rejoin_broken_paragraphs(blocks: list[_Block]) -> list[_Block]:
    """Join a paragraph that a page break split in two: the first half stops mid-sentence."""
    out: list[_Block] = []
    for block in blocks:
        previous = out[-1] if out else None
        if previous is not None and block.kind == "para" and previous.kind in ("para", "item"):
            last = previous.lines[-1].text
            stops_mid_sentence = last[-1].isalnum() or last[-1] == ","
            long_enough = sum(len(line.text.split()) for line in previous.lines) >= 20
            if stops_mid_sentence and (block.lines[0].text[0].islower() or long_enough):
                previous.lines.extend(block.lines)
                continue
        out.append(block)
    return out


def _render(blocks: list[_Block]) -> CleanText:
    parts: list[str] = []
    line_map: list[tuple[int, int]] = []
    offset = 0

    def emit(text: str, line_number: int) -> None:
        nonlocal offset
        if not line_map or line_map[-1][1] != line_number:
            line_map.append((offset, line_number))
        parts.append(text)
        offset += len(text)

    for index, block in enumerate(blocks):
        if index:
            before = blocks[index - 1]
            tight = block.kind == before.kind and block.kind in ("item", "row")
            emit("\n" if tight else "\n\n", before.lines[-1].number)
        emit(block.marker, block.lines[0].number)
        for position, line in enumerate(block.lines):
            if position:
                if _SPLIT_WORD.search(parts[-1]) and line.text[0].islower():
                    parts[-1] = parts[-1][:-1]  # "arrange-" + "ments" -> "arrangements"
                    offset -= 1
                else:
                    emit(" ", block.lines[position - 1].number)
            emit(line.text, line.number)
    return CleanText(text="".join(parts), line_map=line_map)
