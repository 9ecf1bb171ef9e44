"""The `assistant` command: a thin layer over the library; heavy imports happen inside commands."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from assistant.config import Settings
from assistant.errors import AssistantError


def friendly_errors(func):
    """User-fixable problems print as one line and exit 1, never as a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper


def settings_from(ctx: click.Context, **overrides) -> Settings:
    base = ctx.obj or {}
    return Settings.from_env(**{**base, **overrides})


def progress_printer():
    """A tqdm bar per stage, on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="", file=sys.stderr, leave=True)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return report


def filters_option(func):
    for option in reversed([
        click.option("--council", "councils", multiple=True, help="Only this council (repeatable)."),
        click.option("--kind", "kinds", multiple=True, help="Only this document kind, e.g. 'press release'."),
        click.option("--year", "years", multiple=True, type=int, help="Only documents dated this year."),
    ]):
        func = option(func)
    return func


def make_filters(councils, kinds, years):
    from assistant.retrieval import Filters

    return Filters(list(councils), list(kinds), list(years))


@click.group()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding corpus/ and index/ (default: this project).")
@click.option("--model", help="Shipped model name, a .gguf path, or openai:<base url>#<model>.")
@click.version_option(package_name="council-assistant")
@click.pass_context
def main(ctx: click.Context, home: Path | None, model: str | None) -> None:
    """Ask questions of council peer challenge reports and get answers cited to the exact passage."""
    ctx.obj = {"home": home, "model": model}


@main.command()
@click.option("--rebuild", is_flag=True, help="Re-embed everything instead of only what changed.")
@click.pass_context
@friendly_errors
def index(ctx: click.Context, rebuild: bool) -> None:
    """Build or update the index from the corpus folder."""
    from assistant.store import build_index

    settings = settings_from(ctx)
    report = build_index(settings, progress_printer(), rebuild=rebuild)
    for name, reason in report.failed:
        click.secho(f"failed: {name}: {reason}", fg="red", err=True)
    click.echo(
        f"Index {settings.index_dir}: {report.chunks} chunks; added {len(report.added)}, updated "
        f"{len(report.updated)}, removed {len(report.removed)}, unchanged {len(report.unchanged)} documents; "
        f"{report.embedded} chunks embedded in {report.seconds:.1f} s."
    )
    if report.failed:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--council", help="Council name, e.g. 'Derby City Council' (inferred if omitted).")
@click.option("--kind", help="Document kind, e.g. 'peer challenge report', 'press release'.")
@click.option("--date", help="Date as YYYY, YYYY-MM or YYYY-MM-DD (inferred if omitted).")
@click.option("--title", help="Title (inferred if omitted).")
@click.option("--no-index", is_flag=True, help="Only copy into the corpus; don't update the index.")
@click.pass_context
@friendly_errors
def ingest(ctx, paths, council, kind, date, title, no_index) -> None:
    """Add reports (PDF, HTML, DOCX, Markdown, text; files or folders) to the corpus and index them."""
    from tqdm import tqdm

    from assistant.corpus import expand_paths, ingest_file
    from assistant.store import build_index

    settings = settings_from(ctx)
    files = expand_paths(list(paths))
    overrides = {"council": council, "kind": kind, "date": date, "title": title}
    results = [ingest_file(f, settings.corpus_dir, overrides, int(settings.max_file_mb * 2**20))
               for f in tqdm(files, desc="reading", file=sys.stderr, disable=len(files) < 2)]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        line = f"{r.status}: {r.path}" + (f" -> {r.doc_id}" if r.doc_id else "") + (f" ({r.detail})" if r.detail else "")
        click.secho(line, fg="red" if r.status == "failed" else None, err=r.status == "failed")
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to ingest")
    if not no_index and any(r.status in ("added", "updated") for r in results):
        report = build_index(settings, progress_printer())
        click.echo(f"Index updated: {report.embedded} chunks embedded, {report.chunks} in all.")
    if counts.get("failed"):
        sys.exit(1)


def passage_row(rank: int, p) -> dict:
    c = p.chunk
    return {"rank": rank, "score": round(p.score, 5), "text": c.text, "doc_id": c.doc_id, "title": c.title,
            "council": c.council, "kind": c.kind, "date": c.date, "section": c.section, "start": c.start,
            "end": c.end, "source_path": c.source_path, "line_start": c.line_start, "line_end": c.line_end}


@main.command()
@click.argument("queries", nargs=-1)
@click.option("-k", "k", default=5, show_default=True, help="Passages per query.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--no-auto-scope", is_flag=True, help="Don't filter by councils named in the query.")
@filters_option
@click.pass_context
@friendly_errors
def search(ctx, queries, k, as_json, mode, no_auto_scope, councils, kinds, years) -> None:
    """Retrieve passages (queries from arguments, or one per line on stdin)."""
    from assistant.retrieval import Retriever

    queries = list(queries) or [line.strip() for line in sys.stdin if line.strip()]
    if not queries:
        raise AssistantError("No query: give one as an argument or one per line on standard input.")
    retriever = Retriever.from_settings(settings_from(ctx))
    filters = make_filters(councils, kinds, years)
    for query in queries:
        if no_auto_scope:
            passages = retriever.search(query, k, filters, mode)
        else:
            passages = retriever.search_scope(retriever.analyse(query), k, filters, mode)
        rows = [passage_row(i + 1, p) for i, p in enumerate(passages)]
        if as_json:
            click.echo(json.dumps({"query": query, "results": rows}, ensure_ascii=False))
            continue
        click.secho(f"\n{query}", bold=True)
        for r in rows:
            click.echo(f"{r['rank']:>2}. {r['score']:.4f}  {r['council']} | {r['title']} | {r['section']} "
                       f"| lines {r['line_start']}-{r['line_end']}")
            click.echo("    " + " ".join(r["text"].split())[:220])


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer and citations as JSON.")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the answer with its evidence table as Markdown.")
@click.option("-k", "k", type=int, help="Passages given to the model.")
@filters_option
@click.pass_context
@friendly_errors
def ask(ctx, question, as_json, as_markdown, k, councils, kinds, years) -> None:
    """Answer a question with citations (streams the answer as it is written)."""
    from assistant.answer import Assistant, draft_note
    from assistant.export import answer_markdown

    assistant = Assistant(settings_from(ctx))
    answer = None
    streaming = not (as_json or as_markdown) and sys.stdout.isatty()
    for event in assistant.stream(question, filters=make_filters(councils, kinds, years), k=k):
        if event.kind == "token" and streaming:
            click.echo(event.data, nl=False)
        elif event.kind == "answer":
            answer = event.data
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return
    if as_markdown:
        click.echo(answer_markdown(answer))
        return
    if streaming:
        click.echo("\n\n--- checked answer ---")
    click.echo(answer.text)
    click.echo()
    for c in answer.citations:
        click.echo(f"[{c.n}] {c.council} | {c.title} | {c.section} | {c.source_path} lines {c.line_start}-{c.line_end}")
        click.echo(f"    “{c.quote}”")
    if note := draft_note(answer):
        click.secho(f"({note})", dim=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on (0.0.0.0 to share).")
@click.option("--port", default=7860, show_default=True)
@click.option("--auth", help="username:password required to use the app (recommended when sharing).")
@click.pass_context
@friendly_errors
def chat(ctx, host, port, auth) -> None:
    """Open the chat app in your browser (updates the index first if the corpus changed)."""
    from assistant.store import build_index, index_status
    from assistant.ui import launch

    settings = settings_from(ctx)
    status = index_status(settings)
    if status.stale:
        click.echo("The corpus changed since the index was built; updating it…", err=True)
        build_index(settings, progress_printer())
    credentials = None
    if auth:
        if ":" not in auth:
            raise AssistantError("--auth must be written username:password.")
        credentials = tuple(auth.split(":", 1))
    launch(settings, host=host, port=port, auth=credentials, warm_up=True)


@main.command()
@click.pass_context
@friendly_errors
def documents(ctx) -> None:
    """List the indexed documents with their metadata."""
    from assistant.store import load_index

    index = load_index(settings_from(ctx))
    for d in sorted(index.documents.values(), key=lambda d: (d.council, d.date)):
        chunks = index.manifest["documents"][d.doc_id]["chunks"]
        click.echo(f"{d.doc_id}\n    {d.title}\n    {d.council} | {d.kind} | {d.date} | {chunks} chunks | {d.source_path}")


@main.command(name="eval")
@click.option("--questions", "questions_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Questions JSONL (default: eval/questions.jsonl in the home folder).")
@click.option("--configs", default="hybrid,dense,lexical", show_default=True,
              help="Retrieval configs to compare: a mode, optionally with settings, e.g. hybrid:rrf_k=20.")
@click.option("--chunk-sizes", help="Chunk sizes to compare, e.g. 128,256,512 or 256/32 (size/overlap); "
              "each builds its own index. Default: the configured size.")
@click.option("--answers", is_flag=True, help="Also answer the questions with the model (slow) and score the answers.")
@click.option("--limit", type=int, help="With --answers: answer this many questions (all unanswerable ones first).")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --answers: re-check the model replies recorded in this answers.jsonl; only prompts the "
              "recording lacks go to the model (minutes instead of half an hour; measures a change to the checks).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of Markdown.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the tables and plots (default: eval/results in the home folder).")
@click.option("--beir", "beir_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Instead of the gold set: run the BEIR benchmark in this folder (e.g. SciFact).")
@click.pass_context
@friendly_errors
def evaluate(ctx, questions_path, configs, chunk_sizes, answers, limit, replay, as_json, out, beir_dir) -> None:
    """Measure retrieval (and with --answers, answers) on the gold questions; save tables and a plot."""
    from tqdm import tqdm

    from assistant import evaluation as ev

    settings = settings_from(ctx)
    out = out or settings.home / "eval" / "results"
    out.mkdir(parents=True, exist_ok=True)
    if beir_dir:
        with tqdm(desc="embedding corpus", unit="doc", file=sys.stderr) as bar:
            report = ev.run_beir(beir_dir, settings, bar.update)
        table = ev.beir_table(report)
        (out / "beir.md").write_text(f"## BEIR: {beir_dir.name}, test split\n\n{table}\n", encoding="utf-8")
        click.echo(json.dumps(ev.as_json(report), indent=1) if as_json else table)
        return

    questions = ev.load_questions(questions_path or settings.home / "eval" / "questions.jsonl")
    config_list = [ev.parse_config(c) for c in configs.split(",") if c.strip()]
    sizes = []
    for spec in (chunk_sizes or str(settings.chunk_tokens)).split(","):
        size, _, overlap = spec.strip().partition("/")
        if not size.isdigit() or (overlap and not overlap.isdigit()):
            raise AssistantError(f"--chunk-sizes {spec!r}: write sizes as numbers, e.g. 128,256 or 256/32.")
        sizes.append((int(size), int(overlap) if overlap else settings.chunk_overlap))
    total = len(questions) * len(config_list) * len(sizes)
    with tqdm(total=total, desc="retrieval", unit="q", file=sys.stderr) as bar:
        reports = ev.compare_retrieval(settings, questions, config_list, sizes, bar.update, progress_printer())
    scored = next((r for r in reports if not r.config.startswith("lexical")), None)
    analysis = ev.refusal_thresholds(scored.results) if scored else None
    markdown = ev.retrieval_markdown(reports, questions, analysis)
    (out / "retrieval.md").write_text(markdown, encoding="utf-8")
    ev.plot_recall(reports, out / "recall_at_k.png")
    (out / "retrieval_questions.jsonl").write_text("".join(
        json.dumps({"config": r.name, **ev.as_json(q)}, ensure_ascii=False) + "\n" for r in reports for q in r.results),
        encoding="utf-8")
    result = {"retrieval": [{k: v for k, v in vars(r).items() if k != "results"} for r in reports],
              "refusal_thresholds": analysis and {"chosen": analysis.chosen, "best_cosine_alone": analysis.best_cosine,
                                                  "best": analysis.best}}
    if answers:
        replies = ev.load_replies(replay) if replay else None
        subset = ev.answer_subset([q for q in questions if q.id in replies] if replies else questions, limit)
        with tqdm(total=len(subset), desc="answers", unit="q", file=sys.stderr) as bar:
            answer_results = ev.evaluate_answers(settings, subset, bar.update, replies)
        summary = ev.summarise_answers(answer_results)
        table = ev.answers_table(summary)
        (out / "answers.md").write_text(
            f"## Answers by {settings.model} on {len(subset)} questions\n\n{table}\n", encoding="utf-8")
        (out / "answers.jsonl").write_text(
            "".join(json.dumps(ev.as_json(r), ensure_ascii=False) + "\n" for r in answer_results), encoding="utf-8")
        markdown += f"\n## Answers by {settings.model} on {len(subset)} questions\n\n{table}\n"
        result["answers"] = summary
    click.echo(json.dumps(ev.as_json(result), indent=1) if as_json else markdown)


if __name__ == "__main__":
    main()
