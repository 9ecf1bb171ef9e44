"""An answer with its evidence table, as Markdown for reports and briefing notes."""

from __future__ import annotations

from assistant.answer import Answer, draft_note


def cell(text: str) -> str:
    """Table-safe text: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def answer_markdown(answer: Answer) -> str:
    lines = [f"## {cell(answer.question)}", "", answer.text, ""]
    if answer.refused and answer.citations:
        lines += ["Nearest passages found (not checked as an answer):", ""]
    if answer.citations:
        lines += [
            "| # | Quote | Document | Section | Lines | Council | Date |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in answer.citations:
            lines.append(
                f"| {c.n} | “{cell(c.quote)}” | {cell(c.title)} (`{c.source_path}`) | {cell(c.section)} "
                f"| {c.line_start}–{c.line_end} | {cell(c.council)} | {c.date} |"
            )
        lines.append("")
    lines.append(f"_Scope: {answer.scope.describe()}._")
    if note := draft_note(answer):
        lines.append(f"_{note}_")
    return "\n".join(lines) + "\n"
