"""Reports on disk: metadata sidecars, loading and cleaning, inferring metadata, ingesting new files."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.cleaning import CleanText, clean_text
from assistant.errors import AssistantError
from assistant.readers import SUPPORTED_SUFFIXES, read_document

META_SUFFIX = ".meta.json"
DATE_PATTERN = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
COUNCIL_PATTERN = re.compile(r"\b((?:(?!Council\b)[A-Z][a-z]+[ -](?:(?:upon|on|under|and|&)[ -])?){1,4}Council)\b")
NOT_PART_OF_A_NAME = {"The", "This", "A", "Full", "Our", "Each", "Every", "Local", "One", "Whole", "Cabinet",
                      "Leader", "Peer", "Challenge", "Corporate", "Enterprising", "Dear", "At", "In", "By", "For"}
MONTHS = "January February March April May June July August September October November December".split()


@dataclass
class Metadata:
    """What a reader needs to know about a document besides its text."""

    doc_id: str
    title: str
    council: str
    kind: str
    date: str  # YYYY, YYYY-MM or YYYY-MM-DD
    notes: str = ""
    origin: str = ""

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date[:4].isdigit() else None


@dataclass
class Document:
    meta: Metadata
    source_path: Path
    clean: CleanText
    sha256: str
    warnings: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    @property
    def text(self) -> str:
        return self.clean.text


def sidecar_path(source: Path) -> Path:
    return source.with_name(source.name + META_SUFFIX) if source.suffix == "" else source.with_suffix(META_SUFFIX)


def source_files(corpus_dir: Path) -> list[Path]:
    """Report files in the corpus folder (sidecars and hidden files excluded), sorted by name."""
    if not corpus_dir.is_dir():
        raise AssistantError(f"Corpus folder {corpus_dir} does not exist: create it or set ASSISTANT_CORPUS_DIR.")
    return sorted(
        p
        for p in corpus_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document_fingerprint(source: Path) -> str:
    """Hash of the file and its sidecar: a change to either means the document must be re-indexed."""
    side = sidecar_path(source)
    meta = side.read_bytes() if side.exists() else b""
    return hashlib.sha256(file_sha256(source).encode() + meta).hexdigest()


def read_metadata(source: Path) -> Metadata | None:
    side = sidecar_path(source)
    if not side.exists():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
        meta = Metadata(**{k: data[k] for k in ("doc_id", "title", "council", "kind", "date")},
                        notes=data.get("notes", ""), origin=data.get("origin", ""))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AssistantError(
            f"{side}: metadata is not valid ({exc}); it needs doc_id, title, council, kind and date. "
            "Fix the file or delete it to have the metadata inferred."
        ) from None
    check_date(meta.date, str(side))
    return meta


def check_date(date: str, where: str) -> None:
    if not DATE_PATTERN.match(date):
        raise AssistantError(f"{where}: date {date!r} must be written YYYY, YYYY-MM or YYYY-MM-DD.")


def load_document(source: Path, max_bytes: int = 50 * 2**20) -> Document:
    raw = read_document(source, max_bytes=max_bytes)
    clean = clean_text(raw.text)
    if not clean.text.strip():
        raise AssistantError(f"{source}: no text left after cleaning; check that the file is a readable report.")
    meta = read_metadata(source) or infer_metadata(clean.text, source, raw.title)
    return Document(meta=meta, source_path=source, clean=clean, sha256=document_fingerprint(source),
                    warnings=list(raw.warnings))


def load_corpus(corpus_dir: Path, max_bytes: int = 50 * 2**20) -> list[Document]:
    docs = [load_document(p, max_bytes) for p in source_files(corpus_dir)]
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise AssistantError(
                f"{doc.source_path} and {seen[doc.doc_id]} share the doc_id {doc.doc_id!r}; "
                "give one of them another doc_id in its .meta.json."
            )
        seen[doc.doc_id] = doc.source_path
    return docs


# --- inferring metadata -----------------------------------------------------------------


def infer_council(text: str) -> str:
    """The council named most often in the text, or 'Unknown council'."""
    counts: dict[str, int] = {}
    for match in COUNCIL_PATTERN.finditer(text[:20000]):
        words = match.group(1).split()
        while words and words[0] in NOT_PART_OF_A_NAME:
            words.pop(0)
        if len(words) >= 2 and words[0] not in {"City", "County", "Borough", "District", "Town"}:
            name = " ".join(words)
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get) if counts else "Unknown council"


def infer_date(text: str) -> str:
    """The first full date in the text ('22nd - 25th October 2018' gives 2018-10-25), else the first year."""
    months = "|".join(MONTHS)
    found = re.search(
        rf"(\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[–-]\s*(\d{{1,2}})(?:st|nd|rd|th)?)?\s+({months})\s+(20\d\d|19\d\d)", text
    )
    if found:
        day = found.group(2) or found.group(1)
        month = MONTHS.index(found.group(3)) + 1
        return f"{found.group(4)}-{month:02d}-{int(day):02d}"
    year = re.search(r"\b(20\d\d|19\d\d)\b", text)
    return year.group(1) if year else "unknown"


def infer_kind(text: str, source: Path) -> str:
    head = text[:3000].lower()
    if "peer challenge" in head and ("feedback report" in head or "key recommendations" in text.lower()):
        return "peer challenge report"
    if "press release" in head or "published today" in head:
        return "press release"
    if source.suffix.lower() in {".html", ".htm"}:
        return "web page"
    return "report"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def infer_metadata(text: str, source: Path, title: str | None = None) -> Metadata:
    council = infer_council(text)
    date = infer_date(text)
    if date == "unknown":
        date = "1900"  # sorts last-but-one and is visibly a placeholder; users can correct the sidecar
    kind = infer_kind(text, source)
    first_line = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), source.stem)
    return Metadata(
        doc_id=slugify(source.stem),
        title=title or first_line[:120],
        council=council,
        kind=kind,
        date=date,
        notes="metadata inferred from the text; correct it in the .meta.json sidecar if wrong",
    )


# --- ingesting ----------------------------------------------------------------------------


@dataclass
class IngestResult:
    path: Path
    status: str  # "added" | "updated" | "skipped" | "failed"
    detail: str = ""
    doc_id: str = ""


def ingest_file(
    path: Path,
    corpus_dir: Path,
    overrides: dict[str, str] | None = None,
    max_bytes: int = 50 * 2**20,
) -> IngestResult:
    """Copy one report into the corpus with a metadata sidecar; never touches other documents."""
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    try:
        raw = read_document(path, max_bytes=max_bytes)
        clean = clean_text(raw.text)
        if not clean.text.strip():
            raise AssistantError(f"{path}: no text left after cleaning; is it a readable report?")
        given = read_metadata(path)  # a sidecar next to the original is honoured
        meta = given or infer_metadata(clean.text, path, raw.title)
        for key, value in overrides.items():
            if key == "date":
                check_date(value, f"--date for {path}")
            setattr(meta, key, value)
        if "doc_id" not in overrides and given is None:
            meta.doc_id = slugify(f"{meta.council.replace(' Council', '')} {meta.date[:4]} {path.stem}")
    except AssistantError as exc:
        return IngestResult(path, "failed", str(exc))

    content_hash = file_sha256(path)
    size = path.stat().st_size
    # Only files of the same size can have the same content: hashing just those keeps a large batch
    # into a large corpus from reading every corpus file once per ingested file.
    for existing in source_files(corpus_dir) if corpus_dir.is_dir() else []:
        if existing.stat().st_size == size and file_sha256(existing) == content_hash:
            return IngestResult(path, "skipped", f"same content as {existing.name}", existing.stem)

    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / f"{meta.doc_id}{path.suffix.lower()}"
    status = "updated" if target.exists() else "added"
    tmp = target.with_name(f".{target.name}.part")
    shutil.copyfile(path, tmp)
    tmp.replace(target)
    meta.origin = meta.origin or path.name
    write_metadata(target, meta)
    detail = "; ".join(raw.warnings)
    return IngestResult(path, status, detail, meta.doc_id)


def write_metadata(source: Path, meta: Metadata) -> None:
    side = sidecar_path(source)
    tmp = side.with_name(f".{side.name}.part")
    tmp.write_text(json.dumps(asdict(meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(side)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, plus supported files found recursively in named folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                                and not p.name.endswith(META_SUFFIX)))
        else:
            files.append(path)
    return files
