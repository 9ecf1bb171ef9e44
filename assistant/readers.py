"""Turn a file on disk (text, Markdown, PDF, HTML, DOCX) into raw, line-oriented text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from pypdf import PdfReader

FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(FORMATS)

# Encodings tried when a text file is neither BOM-marked nor valid UTF-8.
# NUL bytes only occur in text when it is UTF-16/32 without a BOM.
_WIDE_ENCODINGS = ["utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]
_WESTERN_ENCODINGS = ["cp1252", "latin_1"]
_BOMS = [
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
]
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass
class RawDocument:
    text: str  # the document's text, line-oriented (\n line breaks)
    format: str  # "text" | "markdown" | "pdf" | "html" | "docx"
    title: str | None  # from HTML <title>, PDF metadata, DOCX properties or a first "# " heading
    warnings: list[str] = field(default_factory=list)


def read_document(path: Path, max_bytes: int = 50 * 2**20) -> RawDocument:
    """Read a supported file into a RawDocument, or raise AssistantError saying what to do."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AssistantError(
            f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; "
            f"convert it to one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    data = _read_bytes(path, max_bytes)
    readers: dict[str, Callable[[Path, bytes], RawDocument]] = {
        "text": _read_text,
        "markdown": _read_markdown,
        "pdf": _read_pdf,
        "html": _read_html,
        "docx": _read_docx,
    }
    doc = readers[fmt](path, data)
    doc.text = _normalise_newlines(doc.text)
    if not doc.text.strip():
        raise AssistantError(f"{path}: the file contains no text; check that it is the right file.")
    return doc


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    if not path.exists():
        raise AssistantError(f"{path}: no such file; check the path.")
    if not path.is_file():
        raise AssistantError(f"{path}: not a file (a folder?); give the path of a document.")
    size = path.stat().st_size
    if size == 0:
        raise AssistantError(f"{path}: the file is empty; remove it or replace it with the real document.")
    if size > max_bytes:
        raise AssistantError(
            f"{path}: the file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.1f} MB limit; "
            "split it or raise the limit (max_file_mb)."
        )
    return path.read_bytes()


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_text(data: bytes, path: Path) -> str:
    """Decode text in UTF-8 (with or without BOM), UTF-16/32 or cp1252/latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _guess_decode(data)
        if text is not None and not _looks_binary(text):
            return text
    raise AssistantError(
        f"{path}: this does not look like a text file (binary data or an unknown encoding); "
        "save it as UTF-8 text and try again."
    )


def _guess_decode(data: bytes) -> str | None:
    import charset_normalizer

    candidates = _WIDE_ENCODINGS if b"\x00" in data else _WESTERN_ENCODINGS
    best = charset_normalizer.from_bytes(data, cp_isolation=candidates).best()
    return str(best) if best is not None else None


def _looks_binary(text: str) -> bool:
    return len(_CONTROL_CHARS.findall(text)) > max(2, len(text) // 1000)


def _read_text(path: Path, data: bytes) -> RawDocument:
    return RawDocument(text=_decode_text(data, path), format="text", title=None)


def _read_markdown(path: Path, data: bytes) -> RawDocument:
    text = _decode_text(data, path)
    heading = re.search(r"^# +(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return RawDocument(text=text, format="markdown", title=heading.group(1) if heading else None)


def _read_pdf(path: Path, data: bytes) -> RawDocument:
    import io

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password required")
        if len(reader.pages) == 0:
            raise PdfReadError("no pages found")
        pages = [(page.extract_text() or "").replace("\f", "\n") for page in reader.pages]
        title = _pdf_title(reader)
    except (FileNotDecryptedError, DependencyError) as exc:
        raise AssistantError(
            f"{path}: the PDF is encrypted ({exc}); save an unprotected copy "
            "(for example with `qpdf --decrypt`) and add that instead."
        ) from None
    except Exception as exc:  # pypdf raises many types for damaged files
        kind = "damaged" if isinstance(exc, PdfReadError) else f"unreadable ({type(exc).__name__})"
        raise AssistantError(
            f"{path}: the PDF is {kind}: {exc}; re-download or re-export it and try again."
        ) from None

    blank = [number for number, text in enumerate(pages, start=1) if not text.strip()]
    if len(blank) == len(pages):
        raise AssistantError(
            f"{path}: the PDF has no text layer (a scan?); OCR it first "
            "(for example with `ocrmypdf`) and add the result."
        )
    warnings = []
    if blank:
        listed = ", ".join(str(n) for n in blank)
        pages_have = f"pages {listed} have" if len(blank) > 1 else f"page {listed} has"
        warnings.append(f"{pages_have} no text layer (scanned?); skipped")
    text = "\n\n".join(page.strip("\n") for page in pages if page.strip())
    return RawDocument(text=text, format="pdf", title=title, warnings=warnings)


def _pdf_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = str(metadata.title or "").strip() if metadata is not None else ""
    return title or None


def _read_html(path: Path, data: bytes) -> RawDocument:
    import trafilatura

    html = _decode_text(data, path)
    text = trafilatura.extract(
        html, output_format="markdown", favor_recall=True, include_links=False, include_comments=False
    )
    warnings = []
    if not text or not text.strip():
        # trafilatura gives up on pages it thinks are too short; fall back to its plain paragraph text.
        text = trafilatura.baseline(html)[1]
        warnings.append("no main content block found; used all paragraph text on the page")
    if not text or not text.strip():
        raise AssistantError(
            f"{path}: no readable text found in this HTML page (only scripts or navigation?); "
            "save the page's text as a .txt file instead."
        )
    return RawDocument(text=text, format="html", title=_html_title(html), warnings=warnings)


def _html_title(html: str) -> str | None:
    import lxml.html

    try:
        title = lxml.html.fromstring(html.encode("utf-8")).findtext(".//title")
    except Exception:  # a page without a usable tree simply has no title
        return None
    return " ".join((title or "").split()) or None


def _read_docx(path: Path, data: bytes) -> RawDocument:
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and package errors
        raise AssistantError(
            f"{path}: the Word file is damaged or not a .docx ({type(exc).__name__}); "
            "open it in Word or LibreOffice, save it as .docx again and retry."
        ) from None
    lines = [_docx_block_text(block) for block in document.iter_inner_content()]
    title = (document.core_properties.title or "").strip() or None
    return RawDocument(text="\n\n".join(line for line in lines if line.strip()), format="docx", title=title)


def _docx_block_text(block: Paragraph | Table) -> str:
    """A paragraph as one Markdown-like line (headings and list items marked); a table as Markdown rows."""
    from docx.table import Table

    if isinstance(block, Table):
        rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in block.rows]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in rows if any(cells))
    text = block.text.strip()
    style = (block.style.name if block.style is not None else "") or ""
    heading = re.fullmatch(r"Heading (\d)", style)
    if text and heading:
        return "#" * min(int(heading.group(1)), 3) + " " + text
    if text and style == "Title":
        return "# " + text
    if text and style.startswith("List Bullet"):
        return "- " + text
    return text
