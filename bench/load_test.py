"""Load test: simultaneous users asking through the running app's API, each in their own session.

    python bench/load_test.py                        # 20 users, the small model, 64-token answers
    python bench/load_test.py --users 5 --model qwen2.5-1.5b --timeout 1200

Starts the app (assistant.ui.launch) on a free port of 127.0.0.1 over a copy of the shipped corpus
and index, then each user opens a gradio_client session and asks one question at the same moment.
Checks that every request is answered (or, when the time runs out, is visibly still queued), that
none is lost, and that no user's chat shows another user's question. Reports throughput and
latency, and records them in bench/results.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUESTIONS = [
    "What did peers say about Derby's accounts?",
    "What are the key recommendations for Derbyshire County Council?",
    "How did Derby City Council respond to the peer challenge in its press release?",
    "What did the peer team say about Derbyshire's Enterprising Council programme?",
    "What were Derby City Council's governance problems?",
    "What did the peers say about Derbyshire's financial position?",
    "Who was on the peer team for Derby?",
    "What did the peers find about Derby's children's services?",
    "How does Derbyshire County Council work with partners?",
    "What did the peers say about Derby's capacity across departments?",
    "What did peers say about Derbyshire County Council's leadership?",
    "What did Derby City Council say about internal controls?",
    "When did the peer challenge of Derbyshire County Council take place?",
    "What did the peers recommend about Derby's medium term financial plan?",
    "What did peers say about Derbyshire's workforce?",
    "What did the peer challenge say about Derby's relationship with partners?",
    "What does the Derbyshire web page say about next steps?",
    "What did peers say about Derby's senior management?",
    "How did Derbyshire County Council describe the peer challenge in its news story?",
    "What did the peers say about Derby City Council's vision for the city?",
]


@dataclass
class Request:
    user: int
    question: str
    submitted: float = 0.0
    first_update: float | None = None  # the first answer event streamed back: the request left the queue
    finished: float | None = None
    max_queue_rank: int | None = None
    passages_seen: float | None = None  # the user's passages appeared (searching does not wait for the model)
    max_ahead: int = 0  # most answers the app said were ahead of this one at the model
    statuses: list[str] = field(default_factory=list)
    chat: list | None = None
    error: str = ""

    @property
    def latency(self) -> float | None:
        return None if self.finished is None else self.finished - self.submitted

    @property
    def wait(self) -> float | None:
        return None if self.first_update is None else self.first_update - self.submitted


AHEAD = re.compile(r"Waiting for the language model: (\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def temporary_home() -> Path:
    """A copy of the shipped corpus and its index (reused as is when it is current)."""
    from assistant.config import Settings
    from assistant.store import build_index

    home = Path(tempfile.mkdtemp(prefix="load-test-"))
    shutil.copytree(ROOT / "corpus", home / "corpus")
    if (ROOT / "index" / "manifest.json").exists():
        shutil.copytree(ROOT / "index", home / "index", ignore=shutil.ignore_patterns(".lock"))
    build_index(Settings.from_env(home=home))
    return home


def find_endpoint(client) -> tuple[str, list[str]]:
    """The API name of the ask handler (the endpoint taking the question) and its parameter names."""
    api = client.view_api(print_info=False, return_format="dict")
    for name, info in api["named_endpoints"].items():
        params = [p.get("parameter_name") or p.get("label", "") for p in info["parameters"]]
        if "question" in params:
            return name, params
    raise SystemExit(f"No endpoint takes a 'question' parameter; the app's API is: {sorted(api['named_endpoints'])}. "
                     "assistant/ui.py needs to expose its ask handler (for example with api_name='ask').")


def chat_in(outputs) -> list | None:
    """The chat history among an endpoint's outputs: a list of {role, content} messages."""
    for value in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
            return value
    return None


def message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # gradio 6 message content can be a list of parts
        content = " ".join(str(part.get("text", part)) if isinstance(part, dict) else str(part) for part in content)
    return html.unescape(str(content))


def ask(url: str, endpoint: str, params: list[str], request: Request, model: str, length: int, start: threading.Event,
        deadline: float) -> None:
    from gradio_client import Client
    from gradio_client.utils import Status

    values = {"question": request.question, "councils": [], "kinds": [], "years": [], "model": model, "k": 5,
              "length": length}
    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        args = [values.get(p) for p in params]
        start.wait()
        seen = 0
        request.submitted = time.perf_counter()
        job = client.submit(*args, api_name=endpoint)
        while not job.done() and time.perf_counter() < deadline:
            status = job.status()
            code = status.code.value
            if not request.statuses or request.statuses[-1] != code:
                request.statuses.append(code)
            if status.code == Status.IN_QUEUE and status.rank is not None:
                request.max_queue_rank = max(request.max_queue_rank or 0, status.rank + 1)
            outputs = job.outputs()
            if request.first_update is None and outputs:
                request.first_update = time.perf_counter()
            for update in outputs[seen:]:
                text = str(update)
                if request.passages_seen is None and "Passages found" in text:
                    request.passages_seen = time.perf_counter()
                request.max_ahead = max([request.max_ahead, *(int(n) for n in AHEAD.findall(text))])
            seen = len(outputs)
            time.sleep(0.2)
        if not job.done():
            request.error = f"still {request.statuses[-1] if request.statuses else 'unknown'} at the deadline"
            job.cancel()
            return
        request.first_update = request.first_update or time.perf_counter()
        request.chat = chat_in(job.result())
        request.finished = time.perf_counter()
        client.close()
    except Exception as exc:  # recorded per request: one failure must not hide the others
        request.error = f"{type(exc).__name__}: {exc}"


def check(requests: list[Request]) -> list[str]:
    """Problems: lost requests, errors, chats without their own question or with someone else's."""
    problems = []
    others = {r.user: r.question for r in requests}
    for r in requests:
        if r.error:
            problems.append(f"user {r.user}: {r.error}")
            continue
        if not r.chat:
            problems.append(f"user {r.user}: no chat history in the final output")
            continue
        asked = [message_text(m) for m in r.chat if m.get("role") == "user"]
        if asked != [r.question]:
            problems.append(f"user {r.user}: chat shows questions {asked!r}, expected only {r.question!r}")
        crossed = [u for u, q in others.items() if u != r.user and any(q in message_text(m) for m in r.chat)]
        if crossed:
            problems.append(f"user {r.user}: chat contains the questions of users {crossed}")
        replies = [message_text(m) for m in r.chat if m.get("role") == "assistant"]
        if len(replies) != 1 or not replies[0].strip() or replies[0].startswith("⚠️"):
            problems.append(f"user {r.user}: reply {replies!r}")
    return problems


def summarise(requests: list[Request], wall: float, args) -> dict:
    done = [r for r in requests if r.latency is not None and not r.error]
    latencies = sorted(r.latency for r in done)
    waits = sorted(r.wait for r in done if r.wait is not None)
    shown = sorted(r.passages_seen - r.submitted for r in done if r.passages_seen is not None)

    def pct(values: list[float], p: float) -> float | None:
        return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 1) if values else None

    return {
        "users": len(requests), "model": args.model, "answer_tokens": args.length, "answered": len(done),
        "errors": [r.error for r in requests if r.error],
        "queued_seen": sum(1 for r in requests if "IN_QUEUE" in r.statuses),
        "max_queue_rank": max((r.max_queue_rank or 0) for r in requests),
        "waiting_for_model_seen": sum(1 for r in requests if r.max_ahead),
        "max_answers_ahead": max((r.max_ahead for r in requests), default=0),
        "passages_shown_s": {"p50": pct(shown, 50), "p95": pct(shown, 95), "max": pct(shown, 100)},
        "wall_s": round(wall, 1), "answers_per_min": round(60 * len(done) / wall, 2) if wall else None,
        "latency_s": {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "max": pct(latencies, 100),
                      "mean": round(statistics.fmean(latencies), 1) if latencies else None},
        "first_update_s": {"p50": pct(waits, 50), "p95": pct(waits, 95), "max": pct(waits, 100)},
        "load_before": args.load_before, "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--model", default="qwen2.5-0.5b", help="The model each user picks in the app.")
    parser.add_argument("--length", type=int, default=64, help="Longest answer in tokens (the app's slider).")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds before unfinished requests are reported.")
    parser.add_argument("--no-record", action="store_true", help="Don't write bench/results.json and RESULTS.md.")
    args = parser.parse_args()
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    from gradio_client import Client

    from assistant.config import Settings
    from assistant.ui import launch

    home = temporary_home()
    port = free_port()
    app = launch(Settings.from_env(home=home), host="127.0.0.1", port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    try:
        probe = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        endpoint, params = find_endpoint(probe)
        print(f"endpoint {endpoint}{tuple(params)}; {args.users} users, model {args.model}", file=sys.stderr)
        requests = [Request(i, QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" (user {i})"))
                    for i in range(args.users)]
        start = threading.Event()
        deadline = time.perf_counter() + 2 + args.timeout
        threads = [threading.Thread(target=ask, args=(url, endpoint, params, r, args.model, args.length, start,
                                                      deadline)) for r in requests]
        for t in threads:
            t.start()
        time.sleep(2)  # let every client connect, then all ask at once
        began = time.perf_counter()
        start.set()
        for t in threads:
            t.join()
        wall = max((r.finished or began) for r in requests) - began
    finally:
        app.close()
        shutil.rmtree(home, ignore_errors=True)

    summary = summarise(requests, wall, args)
    summary["problems"] = check(requests)
    for r in requests:
        state = f"{r.latency:.1f} s (first update after {r.wait:.1f} s)" if r.latency is not None else r.error
        print(f"user {r.user:2d}: {state}; statuses {' > '.join(r.statuses)}; queue rank up to {r.max_queue_rank}; "
              f"answers ahead up to {r.max_ahead}",
              file=sys.stderr)
    print(summary, file=sys.stderr)
    if not args.no_record:
        sys.path.insert(0, str(ROOT / "bench"))
        import run

        results = run.previous_results()
        results.setdefault("environment", run.environment())
        results["load_test"] = summary
        run.write_results(results)
    sys.exit(1 if summary["problems"] else 0)


if __name__ == "__main__":
    main()
