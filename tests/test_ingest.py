"""`assistant ingest` on a messy folder: every format, duplicates, bad files reported one line each,
the rest of the batch added and indexed, and nothing already indexed lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.config import Settings
from assistant.corpus import ingest_file
from assistant.store import build_index, load_index
from tests.conftest import make_home
from tests.test_readers import encrypted, make_pdf

EXISTING = """# Peer challenge: Oldbury Borough Council

## 1. Executive summary

Oldbury Borough Council has a balanced budget and a new housing company set up in 2019.
"""

ANYTOWN = """# Peer challenge: Anytown Borough Council

## 1. Executive summary

Anytown Borough Council has strong finances and a clear vision for the town centre.

## 2. Key recommendations

1. Refresh the medium term financial strategy.
"""

HTML = """<html><head><title>Peer challenge | Brookfield District Council</title></head><body>
<nav><a href="/">Home</a></nav><main><h1>Peer challenge</h1>
<p>Brookfield District Council welcomed the peer team in May 2022 and will publish an action plan.</p>
<p>The peers praised the council's work with parish councils on flood resilience.</p></main></body></html>"""


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Peer challenge: Castleton City Council", level=1)
    document.add_paragraph("Castleton City Council should review its commercial property investments.")
    document.save(str(path))


@pytest.fixture()
def batch(tmp_path: Path) -> Path:
    """A folder, with subfolders, of good reports in every format plus one of each kind of bad file."""
    root = tmp_path / "batch"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "anytown.md").write_text(ANYTOWN, encoding="utf-8")
    (root / "nested" / "anytown-copy.md").write_text(ANYTOWN, encoding="utf-8")  # same content, other name
    (root / "nested" / "westshire.txt").write_bytes(
        "Peer challenge: Westshire County Council\n\nWestshire County Council’s budget is £412m; "
        "the café at County Hall closed.\n".encode("cp1252"))
    (root / "nested" / "brookfield.html").write_text(HTML, encoding="utf-8")
    write_docx(root / "nested" / "deeper" / "castleton.docx")
    (root / "nested" / "deeper" / "moorside.pdf").write_bytes(
        make_pdf([["Peer challenge: Moorside Borough Council", "Moorside Borough Council is improving."], []]))
    (root / "nested" / "notes.xyz").write_text("not a report")  # unsupported types in folders are not picked up
    bad = {
        "empty.txt": b"",
        "locked.pdf": encrypted(make_pdf([["Secret"]]), user_password="letmein"),
        "broken.pdf": b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n",
        "junk.txt": bytes(range(256)) * 8,
        "huge.md": b"# A very long report\n\n" + b"The council met. " * 8000,  # about 136 KB
    }
    for name, data in bad.items():
        (root / "nested" / name).write_bytes(data)
    return root


def run(home: Path, *args: str, max_file_mb: str = "0.1"):
    return CliRunner().invoke(main, ["--home", str(home), *args], env={"ASSISTANT_MAX_FILE_MB": max_file_mb})


def test_a_messy_folder_is_ingested_and_nothing_indexed_is_lost(tmp_path, batch):
    home = make_home(tmp_path / "home", {"oldbury.md": EXISTING})
    build_index(Settings(home=home))

    result = run(home, "ingest", str(batch), str(batch / "nested" / "notes.xyz"))

    assert result.exit_code == 1, "failures make the command fail, after the rest is done"
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    expected = {"empty.txt": "empty", "locked.pdf": "encrypted", "broken.pdf": "damaged",
                "junk.txt": "not look like a text file", "huge.md": "limit", "notes.xyz": "unsupported"}
    assert len(failed) == len(expected)
    for name, problem in expected.items():
        line = next(line for line in failed if f"{name}:" in line)
        assert problem in line, line
    assert "skipped:" in result.stdout and "same content as" in result.stdout
    assert "2 skipped" not in result.stdout and "1 skipped" in result.stdout
    assert "5 added" in result.stdout and "6 failed" in result.stdout
    assert "page 2 has no text layer" in result.stdout, "a scanned page is reported with the PDF that has it"
    assert "Index updated" in result.stdout

    index = load_index(Settings(home=home))
    councils = {d.council for d in index.documents.values()}
    assert councils == {"Oldbury Borough Council", "Anytown Borough Council", "Westshire County Council",
                        "Brookfield District Council", "Castleton City Council", "Moorside Borough Council"}
    assert any("£412m" in c.text and "café" in c.text for c in index.chunks), "cp1252 text decoded"
    corpus_files = {p.name for p in (home / "corpus").iterdir() if not p.name.endswith(".meta.json")}
    assert len(corpus_files) == 6, "failed and duplicate files are not copied into the corpus"


def test_ingesting_again_skips_unchanged_and_updates_changed_reports(tmp_path):
    home = tmp_path / "home"  # no corpus folder yet: ingest creates it
    report = tmp_path / "anytown.md"
    report.write_text(ANYTOWN, encoding="utf-8")

    first = run(home, "ingest", str(report))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("added:") and "1 added" in first.stdout

    again = run(home, "ingest", str(report))
    assert again.exit_code == 0 and "skipped:" in again.stdout and "Index updated" not in again.stdout

    report.write_text(ANYTOWN + "2. Invest in the workforce, where morale is low.\n", encoding="utf-8")
    changed = run(home, "ingest", str(report))
    assert changed.exit_code == 0 and "updated:" in changed.stdout and "1 updated" in changed.stdout
    index = load_index(Settings(home=home))
    assert len(index.documents) == 1
    assert any("morale is low" in c.text for c in index.chunks)


def test_a_report_that_breaks_later_keeps_its_indexed_version(tmp_path):
    home = make_home(tmp_path, {"oldbury.md": EXISTING, "anytown.md": ANYTOWN})
    assert run(home, "index").exit_code == 0
    before = load_index(Settings(home=home))

    (home / "corpus" / "anytown.md").write_bytes(bytes(range(256)) * 8)  # overwritten with junk
    result = run(home, "index")

    assert result.exit_code == 1
    assert "anytown.md" in result.stderr and "previously indexed version is kept" in result.stderr
    after = load_index(Settings(home=home))
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]


def test_ingest_file_reports_a_problem_instead_of_raising(tmp_path):
    corpus = tmp_path / "corpus"
    result = ingest_file(tmp_path / "missing.pdf", corpus)
    assert result.status == "failed" and "missing.pdf" in result.detail and "no such file" in result.detail
    assert not corpus.exists() or not any(corpus.iterdir())
