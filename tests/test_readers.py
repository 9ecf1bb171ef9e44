"""read_document: every supported format, every encoding we promise, and every file users get wrong."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from assistant.readers import SUPPORTED_SUFFIXES, RawDocument, read_document


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF drawing each string as a Helvetica text line; [] gives a page without text."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    font = 3 + 2 * len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()]
    for i, lines in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        shown = "".join(f"({escape(line)}) Tj T* " for line in lines)
        stream = f"BT /F1 12 Tf 14 TL 72 770 Td {shown}ET".encode("latin-1") if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({escape(title or '')}) >>".encode("latin-1"))

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted(pdf: bytes, user_password: str, owner_password: str | None = None) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_error(path: Path, **kwargs: int) -> str:
    with pytest.raises(AssistantError) as caught:
        read_document(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message, "the message names the file"
    return message


REPORT = "The council’s budget was £135m in 2017.\r\nThe peer team met “partners” across the city.\r\n"


# Plain text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_text_in_common_encodings(tmp_path: Path, encoding: str) -> None:
    doc = read_document(write(tmp_path, "report.txt", REPORT.encode(encoding)))
    assert doc == RawDocument(
        text="The council’s budget was £135m in 2017.\nThe peer team met “partners” across the city.\n",
        format="text",
        title=None,
        warnings=[],
    )


def test_latin1_pound_sign(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path, "budget.text", "Budget: £5m for the café.\n".encode("latin-1")))
    assert doc.text == "Budget: £5m for the café.\n"


def test_markdown_title_is_first_heading(tmp_path: Path) -> None:
    text = "Intro line\n\n# Derby City Council peer challenge\n\n## 1. Summary\n\nText.\n"
    doc = read_document(write(tmp_path, "report.md", text.encode()))
    assert (doc.format, doc.title, doc.text) == ("markdown", "Derby City Council peer challenge", text)


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in read_error(tmp_path / "nowhere.txt")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "reports.txt"
    folder.mkdir()
    assert "not a file" in read_error(folder)


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in read_error(write(tmp_path, "empty.txt", b""))


def test_whitespace_only_file(tmp_path: Path) -> None:
    assert "no text" in read_error(write(tmp_path, "blank.txt", b"  \n\n \r\n"))


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    message = read_error(write(tmp_path, "big.txt", b"word " * 1000), max_bytes=1000)
    assert "limit" in message


def test_unsupported_suffix(tmp_path: Path) -> None:
    message = read_error(write(tmp_path, "sheet.xlsx", b"PK\x03\x04"))
    assert "unsupported" in message and ".docx" in message
    assert ".pdf" in SUPPORTED_SUFFIXES and ".htm" in SUPPORTED_SUFFIXES


@pytest.mark.parametrize(
    "junk",
    [
        bytes(range(256)) * 8,  # every byte value, NULs included
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes((i * 37) % 256 for i in range(600)),
        bytes((i * 131 + 7) % 255 + 1 for i in range(3000)),  # no NULs, still not text
    ],
)
def test_binary_junk_in_a_text_file(tmp_path: Path, junk: bytes) -> None:
    assert "not look like a text file" in read_error(write(tmp_path, "notes.txt", junk))


# HTML ----------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title> Corporate peer challenge | Derbyshire County Council </title>
<script>var tracker = "SCRIPT_TEXT";</script><style>.nav { color: red }</style></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">Latest news</a></li><li><a href="/contact">Contact us</a></li></ul></nav>
<main><article>
<h1>Corporate peer challenge</h1>
<p>We invited a small team of councillors and officers from the Local Government Association to take
an objective look at what we do, how we do it and our plans for the future.</p>
<h2>What the peers found</h2>
<p>Positive feedback in the report highlights our:</p>
<ul><li>Good approach to running the council.</li><li>Positive working relationships between councillors and officers.</li></ul>
<p>Cabinet members considered the report on 31 January 2019 and decided on next steps, costing £1.2m.</p>
</article></main>
<footer><p>Follow us on social media</p></footer>
<script>document.write("MORE_SCRIPT")</script>
</body></html>"""


def test_html_main_text_without_scripts_or_navigation(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path, "page.html", PAGE.encode()))
    assert doc.format == "html"
    assert doc.title == "Corporate peer challenge | Derbyshire County Council"
    assert "SCRIPT_TEXT" not in doc.text and "MORE_SCRIPT" not in doc.text and "color" not in doc.text
    assert "Latest news" not in doc.text and "Contact us" not in doc.text
    assert "Cabinet members considered the report on 31 January 2019" in doc.text
    assert "£1.2m" in doc.text
    lines = doc.text.splitlines()
    assert "# Corporate peer challenge" in lines and "## What the peers found" in lines
    assert "- Good approach to running the council." in lines


def test_short_html_page_still_read(tmp_path: Path) -> None:
    html = b"<html><head><title>Note</title><script>x()</script></head><body><p>The report is published.</p></body></html>"
    doc = read_document(write(tmp_path, "note.htm", html))
    assert doc.text.strip() == "The report is published." and doc.title == "Note"


def test_html_without_text(tmp_path: Path) -> None:
    html = b"<html><head><script>var a = 1;</script></head><body><script>go()</script></body></html>"
    assert "no readable text" in read_error(write(tmp_path, "empty.html", html))


# DOCX ----------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_lists_and_title(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Peer challenge feedback"
    document.add_heading("Executive Summary", level=1)
    document.add_paragraph("There is clear pride in being associated with Derby.")
    document.add_heading("The peer team", level=2)
    document.add_paragraph("Kersten England, Chief Executive", style="List Bullet")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Budget"
    table.rows[0].cells[1].text = "£215m"
    path = tmp_path / "report.docx"
    document.save(str(path))

    doc = read_document(path)
    assert (doc.format, doc.title) == ("docx", "Peer challenge feedback")
    assert doc.text.split("\n\n") == [
        "# Executive Summary",
        "There is clear pride in being associated with Derby.",
        "## The peer team",
        "- Kersten England, Chief Executive",
        "| Budget | £215m |",
    ]


def test_corrupt_docx(tmp_path: Path) -> None:
    assert "damaged" in read_error(write(tmp_path, "broken.docx", b"PK\x03\x04 this is not a zip archive"))


# PDF -----------------------------------------------------------------------------------------


def test_pdf_text_layer_title_and_page_without_text(tmp_path: Path) -> None:
    pdf = make_pdf(
        [["Feedback Report", "4.1 Understanding of the local place (and priorities)"], [], ["Next steps"], []],
        title="Derby City Council peer challenge",
    )
    doc = read_document(write(tmp_path, "report.pdf", pdf))
    assert doc.format == "pdf"
    assert doc.title == "Derby City Council peer challenge"
    assert doc.text == "Feedback Report\n4.1 Understanding of the local place (and priorities)\n\nNext steps"
    assert "\f" not in doc.text
    assert doc.warnings == ["pages 2, 4 have no text layer (scanned?); skipped"]


def test_pdf_with_one_blank_page_warns_about_that_page(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path, "two.pdf", make_pdf([["Text"], []])))
    assert doc.warnings == ["page 2 has no text layer (scanned?); skipped"]


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    pdf = encrypted(make_pdf([["Open to read"]]), user_password="", owner_password="owner")
    assert read_document(write(tmp_path, "locked-edit.pdf", pdf)).text == "Open to read"


def test_encrypted_pdf(tmp_path: Path) -> None:
    pdf = encrypted(make_pdf([["Secret"]]), user_password="letmein")
    assert "encrypted" in read_error(write(tmp_path, "secret.pdf", pdf))


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n", make_pdf([["Half a file"]])[:300], b"\x00" * 200],
)
def test_corrupt_pdf(tmp_path: Path, data: bytes) -> None:
    message = read_error(write(tmp_path, "broken.pdf", data))
    assert "damaged" in message or "unreadable" in message


def test_scanned_pdf_without_any_text_layer(tmp_path: Path) -> None:
    assert "OCR" in read_error(write(tmp_path, "scan.pdf", make_pdf([[], []])))
