"""The chat app (Gradio): answers stream in beside the evidence they rest on.

One `Backend` per app holds what every user shares (the index, the retriever, the loaded models);
each browser session keeps its own conversation in a `Session` held by `gr.State`. All document text
reaches the page HTML-escaped, so markup inside a report is shown as text and never runs.
"""

from __future__ import annotations

import bisect
import html
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    import gradio

    from assistant.answer import Answer, Assistant, Citation
    from assistant.scope import Scope
    from assistant.store import DocumentRecord, Index

log = logging.getLogger(__name__)

TITLE = "Council peer challenge assistant"
LOADING_MODEL = "Loading the language model (first question only)…"
LOADING_INDEX = "Loading the index (first question only)…"
SEARCHING = "Searching the reports…"
WRITING = "Writing the answer…"
# Answers being searched or waiting for the model at once; more wait in Gradio's queue, which shows
# their place too.
MAX_ANSWERS_AT_ONCE = 32
SHIPPED_MODELS = [
    ("Qwen2.5 1.5B, shipped (better answers)", "qwen2.5-1.5b"),
    ("Qwen2.5 0.5B, shipped (about 3x faster)", "qwen2.5-0.5b"),
]
KINDS = ["peer challenge report", "press release", "web page", "news story", "report"]
EXAMPLES = [
    "What did peers say about Derby's accounts?",
    "How much funding had Derby lost since 2010?",
    "How do Derby and Derbyshire compare on partnership working?",
    "List the key recommendations for Derbyshire",
    "Who was on the Derby peer team?",
    "What about Derbyshire?",
]
PLACEHOLDER = (
    "**Ask a question about the reports.** Answers cite the passages they come from — click a citation "
    "to see it highlighted. Try an example below, or narrow the search with the filters."
)
EXPORT_DIR_PREFIX = "council-assistant-export-"
T = TypeVar("T")

# --- shared state ------------------------------------------------------------------------------


class Backend:
    """What all sessions share: the index, one retriever and one Assistant per model setting.

    Everything heavy is created on first use, so the page appears at once. Thread-safe.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._export_dir: Path | None = None
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._retriever = None
        self._assistants: dict[tuple[str, int], Assistant] = {}
        self.turns = ModelTurns()

    @property
    def ready(self) -> bool:
        """Whether the retriever (embedding model and index) is loaded."""
        return self._retriever is not None

    def index(self) -> Index:
        from assistant.store import load_index

        with self._lock:
            if self._index is None:
                self._index = load_index(self.settings)
            return self._index

    def assistant(self, model: str, max_answer_tokens: int) -> Assistant:
        """The shared Assistant for this model and answer length (models are loaded once per process)."""
        from assistant.answer import Assistant
        from assistant.retrieval import Retriever
        from assistant.store import load_index

        with self._lock:
            if self._retriever is None:
                self._index = self._index or load_index(self.settings)
                self._retriever = Retriever(self._index, self.settings)
            key = (model, int(max_answer_tokens))
            if key not in self._assistants:
                settings = self.settings.replace(model=model, max_answer_tokens=int(max_answer_tokens))
                self._assistants[key] = Assistant(settings, self._retriever)
            return self._assistants[key]

    def warm_up(self) -> None:
        """Load the index and the default models, so that the first question does not wait for them. A
        failure is only logged: the first question meets it again and shows it to the user."""
        try:
            self.assistant(self.settings.model, self.settings.max_answer_tokens).warm_up()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the chat reports it when asked
            log.warning("Could not load the models in advance: %s", exc)

    def reload(self) -> None:
        """Pick up a rebuilt index: new questions search it, answers being written finish on the old one."""
        from assistant.retrieval import Retriever
        from assistant.store import load_index

        with self._lock:
            self._index = load_index(self.settings)
            if self._retriever is not None:
                self._retriever = Retriever(self._index, self.settings)
                for assistant in self._assistants.values():
                    assistant.retriever = self._retriever

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self.index().documents.get(doc_id)

    def write_export(self, markdown: str, question: str) -> str:
        self._export_dir = self._export_dir or Path(tempfile.mkdtemp(prefix=EXPORT_DIR_PREFIX))
        slug = re.sub(r"[^a-z0-9]+", "-", question.lower()).strip("-")[:48] or "answer"
        path = self._export_dir / f"{slug}-{uuid.uuid4().hex[:6]}.md"
        path.write_text(markdown, encoding="utf-8")
        return str(path)


@dataclass
class Evidence:
    """What the evidence panel shows for one question."""

    heading: str
    citations: list[Citation]  # before the answer is checked: the retrieved passages
    phase: str  # "passages" while the answer is written, then "answer"
    removed: list[str] = field(default_factory=list)


@dataclass
class Session:
    """One browser session's conversation."""

    messages: list[dict] = field(default_factory=list)  # what the chat shows
    scopes: list[Scope] = field(default_factory=list)  # for follow-up questions
    evidence: dict[int, Evidence] = field(default_factory=dict)  # by turn
    turns: int = 0
    draft: str = ""  # the model's raw draft while an answer is being written
    writing: int | None = None  # the turn being answered; None once answered or stopped


# --- HTML for the evidence panel and the report view (every piece of document text escaped) ---


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def chat_safe(text: str) -> str:
    """Text for the chat's Markdown: markup in a report shows as text, and no image is fetched."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("![", "!\\[")


def highlighted(text: str, quote: str) -> str:
    """The passage as HTML with its supporting quote in <mark>."""
    at = text.find(quote) if quote else -1
    if at < 0:
        return esc(text)
    return f"{esc(text[:at])}<mark>{esc(quote)}</mark>{esc(text[at + len(quote):])}"


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def short_title(title: str, council: str) -> str:
    """The title without a leading council name, which the card already shows."""
    rest = title[len(council):].lstrip(" :–-") if title.startswith(council) else ""
    return rest[:1].upper() + rest[1:] if rest else title


def card_html(c: Citation, turn: int, active: bool) -> str:
    where = f"{c.section} · lines {c.line_start}–{c.line_end} · {c.date}" if c.section else \
        f"lines {c.line_start}–{c.line_end} · {c.date}"
    return (
        f'<details class="ca-card{" active" if active else ""}" id="cite-{turn}-{c.n}" '
        f'data-n="{c.n}" data-council="{esc(c.council)}"{" open" if active else ""}>'
        f'<summary><span class="ca-n">[{c.n}]</span> <span class="ca-src"><b class="ca-council">{esc(c.council)}</b>'
        f' · {esc(short_title(c.title, c.council))}</span><span class="ca-meta">{esc(where)}</span>'
        f'<span class="ca-preview">{esc(short(c.quote or c.text))}</span></summary>'
        f'<div class="ca-passage">{highlighted(c.text, c.quote)}</div>'
        f'<button type="button" class="ca-open" data-report data-turn="{turn}" data-n="{c.n}">'
        f"Open in report ↗</button></details>"
    )


def evidence_html(evidence: Evidence | None, turn: int, active: int | None = None) -> str:
    if evidence is None:
        return (
            '<div class="ca-evidence ca-empty" data-phase="empty"><h3>Evidence</h3>'
            "<p>Ask a question: the passages the answer rests on appear here as soon as they are found, "
            "with the supporting words highlighted. Click a citation such as <b>[1]</b> in an answer to open "
            "its passage, and <b>Open in report</b> to read it in context.</p></div>"
        )
    cards = "".join(card_html(c, turn, c.n == active) for c in evidence.citations)
    if not evidence.citations:
        cards = "<p>No passages matched the filters.</p>"
    removed = ""
    if evidence.removed:
        items = "".join(f"<li>{esc(s)}</li>" for s in evidence.removed)
        removed = (f'<details class="ca-removed"><summary>{len(evidence.removed)} sentence(s) of the draft left out '
                   f"(see the note under the answer)</summary><ul>{items}</ul></details>")
    return (f'<div class="ca-evidence" data-phase="{evidence.phase}" data-turn="{turn}">'
            f"<h3>{esc(evidence.heading)}</h3>{cards}{removed}</div>")


def report_html(doc: DocumentRecord, citation: Citation) -> str:
    """The whole cleaned report, each line with its original line number, the cited passage marked."""
    text = doc.text
    start, end = citation.start, citation.end
    if text[start:end] != citation.text:  # spans from an older index: find the passage by its text
        found = text.find(citation.text)
        start, end = (found, found + len(citation.text)) if found >= 0 else (0, 0)
    at = citation.text.find(citation.quote) if citation.quote else -1
    q_start, q_end = (start + at, start + at + len(citation.quote)) if at >= 0 else (-1, -1)
    offsets = [offset for offset, _ in doc.line_map]
    rows = []
    offset, previous = 0, None
    for line in text.splitlines(keepends=True):
        a, b = offset, offset + len(line.rstrip("\n"))
        offset += len(line)
        number = doc.line_map[max(bisect.bisect_right(offsets, a) - 1, 0)][1] if doc.line_map else 0
        heading = re.match(r"#{1,6} ", line)
        if heading:  # show the heading, not its Markdown marks
            a = min(a + heading.end(), b)
        cuts = sorted({a, b, *(x for x in (q_start, q_end) if a < x < b)})
        pieces = []
        for x, y in zip(cuts, cuts[1:]):
            piece = esc(text[x:y])
            pieces.append(f"<mark>{piece}</mark>" if q_start <= x and y <= q_end else piece)
        classes = "ca-ln" + (" in" if a < end and b >= start and end > start else "")
        classes += " h" if heading else ""
        shown_number = number if number != previous else ""  # blank lines the cleaning added share a number
        previous = number
        rows.append(f'<div class="{classes}"><span class="no">{shown_number}</span>'
                    f'<span class="tx">{"".join(pieces) or "&nbsp;"}</span></div>')
    return (
        '<div class="ca-report">'
        f'<div class="ca-report-head"><button type="button" class="ca-close" data-close title="Close">✕</button>'
        f"<h3>{esc(doc.title)}</h3>"
        f'<p class="ca-meta">{esc(doc.council)} · {esc(doc.kind)} · {esc(doc.date)} · {esc(doc.source_path)}</p>'
        f'<p>Passage [{citation.n}]: <b>{esc(citation.section or "—")}</b>, original lines '
        f"{citation.line_start}–{citation.line_end}</p></div>"
        f'<div class="ca-report-body">{"".join(rows)}</div></div>'
    )


EVIDENCE_CSS = """
.ca-evidence h3, .ca-report h3 { margin: 0 0 .5rem; font-size: 1.05rem; }
.ca-empty p { color: var(--body-text-color-subdued); }
.ca-card { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 0 0 .5rem;
  background: var(--background-fill-primary); scroll-margin: 12px; }
.ca-card.active { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.ca-card summary { cursor: pointer; padding: .5rem .7rem; display: grid; grid-template-columns: auto 1fr;
  column-gap: .5rem; list-style: none; }
.ca-card summary::-webkit-details-marker { display: none; }
.ca-n { grid-row: span 3; font-weight: 700; color: var(--color-accent); }
.ca-card summary > * { min-width: 0; overflow-wrap: anywhere; }
.ca-src { font-size: .92rem; }
.ca-meta { font-size: .8rem; color: var(--body-text-color-subdued); }
.ca-preview { font-size: .85rem; color: var(--body-text-color-subdued); font-style: italic; }
.ca-card[open] .ca-preview { display: none; }
.ca-passage { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .9rem; line-height: 1.5;
  padding: 0 .8rem .4rem; }
mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.ca-open, .ca-close { margin: 0 .8rem .6rem; font-size: .82rem; padding: .2rem .6rem; border-radius: 6px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); cursor: pointer; }
.ca-removed { font-size: .85rem; color: var(--body-text-color-subdued); margin-top: .5rem; }
.ca-report { border: 1px solid var(--border-color-primary); border-radius: 8px; margin-top: .8rem;
  background: var(--background-fill-primary); }
.ca-report-head { padding: .6rem .8rem .2rem; border-bottom: 1px solid var(--border-color-primary); }
.ca-report-head p { margin: .1rem 0 .4rem; font-size: .88rem; }
.ca-close { float: right; margin: 0; }
.ca-report-body { position: relative; max-height: 55vh; overflow: auto; padding: .4rem 0;
  font-size: .86rem; line-height: 1.45; }
.ca-ln { display: grid; grid-template-columns: 3.2rem 1fr; }
.ca-ln .no { color: var(--body-text-color-subdued); text-align: right; padding-right: .7rem; user-select: none;
  font-variant-numeric: tabular-nums; }
.ca-ln .tx { white-space: pre-wrap; overflow-wrap: anywhere; padding-right: .6rem; }
.ca-ln.in { background: rgba(250, 204, 21, .14); }
.ca-ln.in .no { color: var(--color-accent); font-weight: 600; }
.ca-ln.h .tx { font-weight: 700; }
"""

# Citation links in the chat ("#cite-<turn>-<n>") select a card here, or ask the server for that turn's
# evidence; "Open in report" asks the server for the report view. One capturing listener per page.
EVIDENCE_JS = """
const select = (id) => {
  const card = element.querySelector('#' + CSS.escape(id));
  if (!card) return false;
  element.querySelectorAll('.ca-card.active').forEach((c) => c.classList.remove('active'));
  card.open = true;
  card.classList.add('active');
  card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  return true;
};
const onClick = (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const link = target && target.closest('a[href^="#cite-"]');
  if (link) {
    event.preventDefault();
    event.stopPropagation();
    const id = link.getAttribute('href').slice(1);
    const [, turn, n] = id.split('-');
    if (!select(id)) trigger('click', {action: 'cite', turn: Number(turn), n: Number(n)});
    return;
  }
  const button = target && target.closest('button[data-report]');
  if (button && element.contains(button)) {
    trigger('click', {action: 'report', turn: Number(button.dataset.turn), n: Number(button.dataset.n)});
  }
};
if (window.councilAssistantClick) document.removeEventListener('click', window.councilAssistantClick, true);
window.councilAssistantClick = onClick;
document.addEventListener('click', onClick, true);
watch('value', () => {
  const card = element.querySelector('.ca-card.active');
  if (card) card.scrollIntoView({block: 'nearest'});
});
"""

REPORT_JS = """
watch('value', () => {
  const box = element.querySelector('.ca-report-body');
  if (!box) return;
  const hit = box.querySelector('.ca-ln.in');
  if (hit) box.scrollTop = Math.max(0, hit.offsetTop - 40);
  element.scrollIntoView({block: 'nearest', behavior: 'smooth'});
});
element.addEventListener('click', (event) => {
  if (event.target instanceof Element && event.target.closest('[data-close]')) props.value = '';
});
"""

PAGE_CSS = """
.gradio-container { max-width: 1440px !important; }
#ca-header h1 { margin-bottom: 0; font-size: 1.5rem; }
#ca-header p { margin-top: .2rem; color: var(--body-text-color-subdued); }
#ca-status p { margin: 0; font-size: .9rem; color: var(--body-text-color-subdued); }
#ca-scope p { margin: 0; font-size: .88rem; }
/* The status line under the chat says what is happening. Gradio's own overlay on the chat only got in
   the way: after Stop cancels an answer it could stay, marked "Error", over the conversation. */
#ca-chat [data-testid="status-tracker"] { display: none !important; }
#ca-chat a[href^="#cite-"] { text-decoration: none; font-weight: 600; font-size: .85em; padding: 0 .15em;
  border-radius: 4px; background: var(--color-accent-soft); }
@media (min-width: 900px) {
  #ca-main { display: grid !important; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); align-items: start; }
  #ca-chat-col { grid-column: 1; grid-row: 1; }
  #ca-controls { grid-column: 1; grid-row: 2; }
  #ca-evidence-col { grid-column: 2; grid-row: 1 / span 2; position: sticky; top: 8px; align-self: start;
    max-height: calc(100vh - 16px); overflow-y: auto; flex-wrap: nowrap; }
}
"""

# --- chat messages ------------------------------------------------------------------------------


def linked(text: str, numbers: set[int], turn: int) -> str:
    """Citation marks as links to their evidence cards: [2] -> [[2]](#cite-<turn>-2)."""
    return re.sub(r"\[(\d+)\]", lambda m: f"[[{m[1]}]](#cite-{turn}-{m[1]})" if int(m[1]) in numbers else m[0], text)


def answer_message(answer: Answer, turn: int) -> str:
    """The checked answer for the chat, with clickable citations and notes on what was refused or removed."""
    from assistant.answer import draft_note

    numbers = {c.n for c in answer.citations}
    parts = [linked(chat_safe(answer.text), numbers, turn)]
    if answer.refused and answer.citations and answer.kind == "refusal":  # a team list shows its own lines
        nearest = "; ".join(f"[[{c.n}]](#cite-{turn}-{c.n}) {chat_safe(c.council)}, {chat_safe(c.section or c.title)}"
                            for c in answer.citations)
        parts.append(f"Nearest passages (not checked as an answer): {nearest}")
    if note := draft_note(answer):
        parts.append(f"_{note}_")
    return "\n\n".join(parts)


def answer_evidence(answer: Answer) -> Evidence:
    from assistant.answer import Citation

    if answer.kind == "clarify":
        found = [Citation.from_passage(p.n, p) for p in answer.passages]
        return Evidence("Passages found — which council did you mean?", found, "answer")
    if answer.refused:
        return Evidence("Nearest passages — not checked as an answer", answer.citations, "answer",
                        answer.removed + answer.off_topic)
    count = len(answer.citations)
    return Evidence(f"Evidence — {count} cited passage{'s' if count != 1 else ''}", answer.citations, "answer",
                    answer.removed + answer.off_topic)


def describe_filters(scope: Scope, councils: list[str], kinds: list[str], years: list[str]) -> str:
    """What was searched: the user's filters and the ones the assistant applied by itself."""
    chosen = [chat_safe(", ".join(values)) for values in (councils, kinds, years) if values]
    lines = [f"**Your filters:** {'; '.join(chosen)}"] if chosen else []
    automatic = scope.describe()
    if automatic != "no filters (all documents)":
        lines.append(f"**Applied automatically:** {chat_safe(automatic)}")
    elif not chosen:
        lines.append("**Searched:** all documents")
    return "  \n".join(lines)


# --- the app ----------------------------------------------------------------------------------


class ModelTurns:
    """Answers take turns at the language model, first come first served, while searching runs for
    everyone at once: a question's passages appear at once, and its answer waits only for the model."""

    def __init__(self):
        self._changed = threading.Condition()
        self._line: list[object] = []

    def wait(self, ticket: object, poll: float = 1.0) -> Iterator[int]:
        """Join the line; yield how many answers are ahead, at least every `poll` seconds, until it is
        this ticket's turn. The caller must `leave` afterwards, also if it gives up waiting."""
        with self._changed:
            self._line.append(ticket)
        while True:
            with self._changed:
                ahead = self._line.index(ticket)
            if ahead == 0:
                return
            yield ahead
            with self._changed:
                if self._line.index(ticket) == ahead:
                    self._changed.wait(poll)

    def leave(self, ticket: object) -> None:
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
            self._changed.notify_all()


def waiting_message(ahead: int) -> str:
    answers = "answer" if ahead == 1 else "answers"
    return f"Passages found. Waiting for the language model: {ahead} {answers} ahead of yours…"


def taking_turns(events: Iterator, turns: ModelTurns) -> Iterator:
    """The answer's events, with ("waiting", answers ahead) events while it waits for the model, which it
    needs from its first "status" event on (answers from the recommendation records never wait)."""
    from assistant.answer import Event

    ticket = object()
    waiting = False
    try:
        for event in events:
            if event.kind == "status" and not waiting:
                waiting = True
                for ahead in turns.wait(ticket):
                    yield Event("waiting", ahead)
            yield event
    finally:
        turns.leave(ticket)


async def in_background(start: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """The items of `start()`, produced on a worker thread.

    Stopping the consumer (Gradio cancels it when Stop is pressed) takes effect at once instead of
    waiting for the model to finish its current step; the worker then closes the iterator at its
    next item, which frees the model for the next question.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()
    stopped = threading.Event()
    done = object()

    def send(item: object) -> None:
        try:
            loop.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the event loop has closed: the server is shutting down
            stopped.set()

    def work() -> None:
        iterator = None
        try:
            iterator = start()
            for item in iterator:
                if stopped.is_set():
                    break
                send(item)
        except Exception as exc:  # re-raised in the consumer
            send(exc)
        finally:
            if iterator is not None and hasattr(iterator, "close"):
                iterator.close()
            send(done)

    threading.Thread(target=work, name="answer", daemon=True).start()
    try:
        while (item := await items.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stopped.set()


def build_app(settings: Settings, custom_models: bool = True, warm_up: bool = False) -> gradio.Blocks:
    """The Gradio Blocks app (queued); serve it with `launch`, which adds the theme, styles and offline setup.

    With custom_models=False users choose only among the shipped and configured models, not any file
    path or server address (for an app shared on the network). With warm_up, the models load in the
    background while the page is read.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    from assistant.retrieval import Filters

    backend = Backend(settings)
    if warm_up:
        threading.Thread(target=backend.warm_up, name="warm-up", daemon=True).start()
    model_choices = list(SHIPPED_MODELS)
    if settings.model not in {value for _, value in model_choices}:
        model_choices.append((settings.model, settings.model))
    offered = {value for _, value in model_choices}

    def filter_choices():
        """Councils, kinds and years in the index, and the documents table."""
        try:
            index = backend.index()
        except AssistantError as exc:
            return [], [], [], [], str(exc)
        docs = sorted(index.documents.values(), key=lambda d: (d.council, d.date))
        chunk_counts = {doc_id: d.get("chunks", 0) for doc_id, d in index.manifest.get("documents", {}).items()}
        rows = [[d.title, d.council, d.kind, d.date, chunk_counts.get(d.doc_id, 0), d.source_path] for d in docs]
        years = sorted({d.date[:4] for d in docs if d.date[:4].isdigit()}, reverse=True)
        return sorted({d.council for d in docs}), sorted({d.kind for d in docs}), years, rows, ""

    def refresh(councils, kinds, years):
        council_list, kind_list, year_list, rows, problem = filter_choices()
        return {
            council_box: gr.Dropdown(choices=council_list, value=[c for c in councils or [] if c in council_list]),
            kind_box: gr.Dropdown(choices=kind_list, value=[k for k in kinds or [] if k in kind_list]),
            year_box: gr.Dropdown(choices=year_list, value=[y for y in years or [] if y in year_list]),
            docs_table: gr.Dataframe(value=rows, label=f"Documents in the index ({len(rows)})"),
            status: f"⚠️ {problem}" if problem else gr.skip(),
        }

    async def respond(question, session, councils, kinds, years, model, k, length):
        question = (question or "").strip()
        if not re.search(r"\w", question):
            yield {status: "Type a question first."}
            return
        turn = session.turns
        session.turns += 1
        session.messages.append({"role": "user", "content": chat_safe(question)})
        session.messages.append({"role": "assistant", "content": f"_{SEARCHING}_"})

        def say(text: str) -> None:
            if session.writing == turn:  # a stopped answer keeps the message Stop gave it
                session.messages[-1] = {"role": "assistant", "content": text}

        session.writing, session.draft = turn, ""
        first = SEARCHING if backend.ready else LOADING_INDEX
        say(f"_{first}_")
        yield {chatbot: session.messages, question_box: "", status: first, session_state: session}
        filters = Filters(list(councils or []), list(kinds or []), [int(y) for y in years or []])
        history = list(session.scopes)

        def answer_events():
            if not custom_models and model not in offered:
                raise AssistantError(f"This server offers only these models: {', '.join(sorted(offered))}.")
            from assistant.models import OPENAI_PREFIX

            chosen = model or settings.model
            events = backend.assistant(chosen, int(length)).stream(question, history, filters, int(k))
            # A model server answers many at once; a model on this machine's CPU, one after another.
            return events if chosen.startswith(OPENAI_PREFIX) else taking_turns(events, backend.turns)

        shown_wait = ""

        def passages_heading(doing: str) -> dict:
            """The evidence panel with the retrieved passages, headed by what the answer is doing now."""
            found = session.evidence.get(turn)
            if found is None or found.phase != "passages":
                return {}
            found.heading = f"Passages found ({len(found.citations)}) — {doing}"
            return {evidence: evidence_html(found, turn)}

        try:
            async for event in in_background(answer_events):
                if event.kind == "scope":
                    say(f"_{SEARCHING}_")
                    yield {chatbot: session.messages, status: SEARCHING,
                           scope_md: describe_filters(event.data, councils or [], kinds or [], years or [])}
                elif event.kind == "passages":
                    from assistant.answer import Citation

                    found = [Citation.from_passage(p.n, p) for p in event.data]
                    session.evidence[turn] = Evidence("", found, "passages")
                    yield {**passages_heading("writing the answer…"), report: ""}
                elif event.kind == "waiting":
                    message = waiting_message(event.data)
                    if message != shown_wait:  # the count is re-sent every second; show changes only
                        shown_wait = message
                        say(f"_{message}_")
                        yield {chatbot: session.messages, status: message,
                               **passages_heading("waiting for the language model…")}
                elif event.kind == "status":
                    message = LOADING_MODEL if "loading" in str(event.data) else WRITING
                    session.draft += "\n\n" if session.draft else ""
                    say(f"{chat_safe(session.draft)}_{message}_")
                    # After a wait, the panel's heading says the answer is being written again.
                    yield {chatbot: session.messages, status: message,
                           **(passages_heading("writing the answer…") if shown_wait else {})}
                elif event.kind == "token":
                    session.draft += str(event.data)
                    say(f"_Draft — being checked against the passages…_\n\n{chat_safe(session.draft)} ▍")
                    yield {chatbot: session.messages, status: WRITING}
                elif event.kind == "answer":
                    from assistant.export import answer_markdown

                    answer = event.data
                    session.scopes.append(answer.scope)
                    session.evidence[turn] = answer_evidence(answer)
                    say(answer_message(answer, turn))
                    session.writing = None
                    export = backend.write_export(answer_markdown(answer), question)
                    seconds = answer.timings.get("total", 0.0)
                    yield {
                        chatbot: session.messages,
                        evidence: evidence_html(session.evidence[turn], turn),
                        status: f"Answered in {seconds:.1f} s." if seconds >= 0.1 else "Answered.",
                        export_button: gr.DownloadButton(value=export, interactive=True),
                        session_state: session,
                    }
        except Exception as exc:  # shown in the conversation, which stays usable
            if not isinstance(exc, AssistantError):
                log.exception("answering %r failed", question)
            say(f"⚠️ {chat_safe(str(exc) or type(exc).__name__)}")
            session.writing = None
            yield {chatbot: session.messages, status: "Something went wrong: see the message above.",
                   session_state: session}

    def stop(session):
        if session.writing is None or not session.messages:
            return {status: gr.skip()}
        session.writing = None
        draft = chat_safe(session.draft.strip())
        session.messages[-1] = {"role": "assistant", "content": f"{draft}\n\n_(stopped: unchecked draft)_"
                                if draft else "_(stopped)_"}
        return {chatbot: session.messages, status: "Stopped.", session_state: session}

    def new_chat():
        fresh = Session()
        return {chatbot: [], evidence: evidence_html(None, 0), report: "", scope_md: "", status: "New conversation.",
                export_button: gr.DownloadButton(value=None, interactive=False), session_state: fresh,
                question_box: ""}

    def on_evidence_click(session, evt: gr.EventData):
        action = getattr(evt, "action", "")
        turn, n = int(getattr(evt, "turn", -1)), int(getattr(evt, "n", 0))
        shown = session.evidence.get(turn)
        if shown is None:
            return {evidence: gr.skip(), report: gr.skip()}
        if action == "cite":
            return {evidence: evidence_html(shown, turn, active=n), report: gr.skip()}
        citation = next((c for c in shown.citations if c.n == n), None)
        doc = backend.document(citation.doc_id) if citation else None
        if doc is None:
            return {evidence: gr.skip(), report: "<p>That report is no longer in the index.</p>"}
        return {evidence: gr.skip(), report: report_html(doc, citation)}

    # Gradio finds the event-data parameter by its annotation, which `from __future__ import annotations`
    # turns into a string it cannot resolve here.
    on_evidence_click.__annotations__["evt"] = gr.EventData

    def add_report(path, council, kind, date, title, progress=gr.Progress()):
        from assistant.corpus import ingest_file
        from assistant.store import build_index

        if not path:
            return {ingest_log: "Choose a file first."}
        progress(0, desc="Reading the file…")
        overrides = {"council": (council or "").strip(), "kind": (kind or "").strip(),
                     "date": (date or "").strip(), "title": (title or "").strip()}
        result = ingest_file(Path(path), settings.corpus_dir, overrides, int(settings.max_file_mb * 2**20))
        if result.status == "failed":
            return {ingest_log: f"⚠️ Not added: {chat_safe(result.detail)}"}
        if result.status == "skipped":
            return {ingest_log: f"Already in the corpus ({chat_safe(result.detail)}); nothing to do."}

        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=f"Indexing: {stage}")

        try:
            built = build_index(settings, report_progress)
            backend.reload()
        except AssistantError as exc:
            return {ingest_log: f"⚠️ Added to the corpus but indexing failed: {chat_safe(str(exc))}"}
        doc = backend.document(result.doc_id)
        summary = (f"✅ {result.status.capitalize()} **{chat_safe(doc.title if doc else result.doc_id)}** "
                   f"({chat_safe(doc.council) if doc else ''}, {doc.date if doc else ''}): "
                   f"{built.embedded} passages indexed in {built.seconds:.1f} s. It can be asked about now.")
        if result.detail:
            summary += f"  \nNote: {chat_safe(result.detail)}"
        for name, reason in built.failed:
            summary += f"  \n⚠️ {chat_safe(name)}: {chat_safe(reason)}"
        return {ingest_log: summary, **refresh([], [], [])}

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        session_state = gr.State(Session())
        gr.Markdown(f"# {TITLE}\nAsk about LGA Corporate Peer Challenge reports. Every answer cites the "
                    "passages it comes from; sentences the passages do not support are removed.",
                    elem_id="ca-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                # DOM order chat, evidence, controls: a phone shows the evidence right under the chat, while
                # PAGE_CSS puts the controls under the chat on wide screens.
                with gr.Row(equal_height=False, elem_id="ca-main"):
                    with gr.Column(scale=3, min_width=320, elem_id="ca-chat-col"):
                        chatbot = gr.Chatbot(
                            show_label=False, elem_id="ca-chat", height=460, buttons=["copy", "copy_all"],
                            latex_delimiters=[], feedback_options=None, layout="panel", placeholder=PLACEHOLDER,
                        )
                        with gr.Row(elem_id="ca-ask-row"):
                            question_box = gr.Textbox(
                                show_label=False, placeholder="Ask about the reports…", scale=6, lines=1,
                                max_lines=4, autofocus=True, elem_id="ca-question", min_width=150,
                            )
                            ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=64, elem_id="ca-ask")
                            stop_button = gr.Button("Stop", variant="secondary", scale=1, min_width=64,
                                                    elem_id="ca-stop")
                        status = gr.Markdown("Ready.", elem_id="ca-status")
                        scope_md = gr.Markdown("", elem_id="ca-scope")
                        with gr.Row():
                            new_button = gr.Button("New chat", size="sm", elem_id="ca-new")
                            export_button = gr.DownloadButton("Export answer (Markdown)", size="sm",
                                                              interactive=False, elem_id="ca-export")
                    with gr.Column(scale=2, min_width=320, elem_id="ca-evidence-col"):
                        evidence = gr.HTML(evidence_html(None, 0), elem_id="ca-evidence", css_template=EVIDENCE_CSS,
                                           js_on_load=EVIDENCE_JS)
                        report = gr.HTML("", elem_id="ca-report", css_template=EVIDENCE_CSS, js_on_load=REPORT_JS)
                    with gr.Column(scale=3, min_width=320, elem_id="ca-controls"):
                        gr.Examples(EXAMPLES, inputs=question_box, label="Examples (the last is a follow-up)")
                        with gr.Accordion("Filters", open=True):
                            with gr.Row():
                                council_box = gr.Dropdown(label="Councils", multiselect=True, choices=[],
                                                          elem_id="ca-councils", min_width=200)
                                kind_box = gr.Dropdown(label="Document kinds", multiselect=True, choices=[],
                                                       elem_id="ca-kinds", min_width=200)
                                year_box = gr.Dropdown(label="Years", multiselect=True, choices=[],
                                                       elem_id="ca-years", min_width=140)
                        with gr.Accordion("Settings", open=False):
                            model_box = gr.Dropdown(
                                label="Model", choices=model_choices, value=settings.model,
                                allow_custom_value=custom_models, elem_id="ca-model",
                                info="A shipped model, a path to a .gguf file, or an OpenAI-compatible server "
                                     "written openai:<base url>#<model name>." if custom_models else None,
                            )
                            with gr.Row():
                                k_slider = gr.Slider(2, 12, value=settings.top_k, step=1, label="Passages per answer")
                                length_slider = gr.Slider(64, 1024, value=settings.max_answer_tokens, step=32,
                                                          label="Longest answer (tokens)")
            with gr.Tab("Documents", id="documents"):
                docs_table = gr.Dataframe(
                    headers=["Title", "Council", "Kind", "Date", "Passages", "File"], interactive=False, wrap=True,
                    label="Documents in the index", elem_id="ca-docs",
                    column_widths=["32%", "17%", "14%", "10%", "8%", "19%"],
                )
                gr.Markdown("### Add a report\nPDF, HTML, Word (.docx), Markdown or text. Leave the fields empty to "
                            "have them read from the document. The report is searchable as soon as indexing ends.")
                with gr.Row():
                    upload = gr.File(label="Report file", file_types=[".pdf", ".html", ".htm", ".docx", ".txt",
                                                                      ".md", ".markdown", ".text"],
                                     type="filepath", elem_id="ca-upload", min_width=260)
                    with gr.Column(min_width=260):
                        upload_council = gr.Textbox(label="Council", placeholder="e.g. Derby City Council",
                                                    elem_id="ca-upload-council")
                        upload_kind = gr.Dropdown(label="Kind", choices=KINDS, value=None, allow_custom_value=True)
                    with gr.Column(min_width=260):
                        upload_date = gr.Textbox(label="Date", placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                                                 elem_id="ca-upload-date")
                        upload_title = gr.Textbox(label="Title")
                add_button = gr.Button("Add and index", variant="primary", elem_id="ca-add")
                ingest_log = gr.Markdown("", elem_id="ca-ingest-log")

        filter_outputs = [council_box, kind_box, year_box, docs_table, status]
        app.load(refresh, [council_box, kind_box, year_box], filter_outputs)
        answer_outputs = {chatbot, question_box, evidence, report, status, scope_md, export_button, session_state}
        asking = gr.on(
            [question_box.submit, ask_button.click], respond,
            [question_box, session_state, council_box, kind_box, year_box, model_box, k_slider, length_slider],
            answer_outputs, concurrency_limit=MAX_ANSWERS_AT_ONCE, concurrency_id="answer", show_progress="hidden",
        )
        stop_button.click(stop, session_state, {chatbot, status, session_state}, cancels=[asking], queue=False,
                          show_progress="hidden")
        new_button.click(new_chat, None, answer_outputs, cancels=[asking], queue=False, show_progress="hidden")
        evidence.click(on_evidence_click, session_state, {evidence, report}, show_progress="hidden")
        add_button.click(add_report, [upload, upload_council, upload_kind, upload_date, upload_title],
                         {ingest_log, *filter_outputs}, concurrency_limit=1, concurrency_id="index")
    # Requests wait in line rather than being dropped; the model writes one answer at a time (ModelTurns).
    app.queue(default_concurrency_limit=4, max_size=256)
    return app


def page_options() -> dict:
    """The theme, styles and page settings `launch` passes to Gradio: system fonts, nothing from the internet."""
    import gradio as gr

    theme = gr.themes.Default(
        primary_hue="indigo", neutral_hue="slate",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"],
    )
    return {"theme": theme, "css": PAGE_CSS, "ssr_mode": False}


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           block: bool = True, warm_up: bool = False) -> gradio.Blocks:
    """Serve the app on host:port (this machine only by default); with block=False, return the running app.

    Served beyond this machine, users cannot point the app at other model files or servers. With warm_up
    (as `assistant chat` does), the models load in the background while the page is read.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    app = build_app(settings, custom_models=host in ("127.0.0.1", "localhost", "::1"), warm_up=warm_up)
    app.launch(
        server_name=host, server_port=port, auth=auth, prevent_thread_lock=not block, inbrowser=False,
        show_error=True, quiet=not block, max_file_size=f"{settings.max_file_mb:g}mb", **page_options(),
    )
    return app
