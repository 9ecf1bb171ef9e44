"""How long a new user waits for the first answer after `assistant chat` starts, with and without the
models loading in the background (the chat's warm-up).

    python bench/first_question.py [--reading 20] [--runs 2] [--cold]

Each case runs in a fresh process, through the chat's own Backend: the process starts, the warm-up
(if any) begins, the user spends --reading seconds reading the page and typing, then asks. Printed per
case: the wait for the first token and for the whole answer, counted from the moment the question is
sent. --cold also uses an empty cache folder, so the shipped model has to be put together from its
packages first, as on a fresh machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What did peers say about Derby's accounts?"


def one_case(warm_up: bool, reading: float) -> dict:
    """Runs in the child process: the chat backend from a cold start, one question."""
    sys.path.insert(0, str(ROOT))
    from assistant.config import Settings
    from assistant.ui import Backend

    backend = Backend(Settings.from_env())
    if warm_up:
        import threading

        threading.Thread(target=backend.warm_up, daemon=True).start()
    time.sleep(reading)
    asked = time.perf_counter()
    assistant = backend.assistant(backend.settings.model, backend.settings.max_answer_tokens)
    first = None
    for event in assistant.stream(QUESTION):
        if event.kind == "token" and first is None:
            first = time.perf_counter() - asked
    return {"first_token": first, "total": time.perf_counter() - asked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reading", type=float, default=20.0, help="seconds between start and question")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cold", action="store_true", help="start each run from an empty cache folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_case(args.child == "warm", args.reading)))
        return

    print(f"load average {os.getloadavg()[0]:.2f}; question asked {args.reading:g} s after start")
    for label, case in (("no warm-up", "plain"), ("warm-up at start", "warm")):
        waits = []
        for _ in range(args.runs):
            env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
            with tempfile.TemporaryDirectory() as cache:
                if args.cold:
                    env["ASSISTANT_CACHE_DIR"] = cache
                out = subprocess.run([sys.executable, __file__, "--child", case, "--reading",
                                      str(args.reading)], env=env, capture_output=True, text=True, check=True)
            waits.append(json.loads(out.stdout.strip().splitlines()[-1]))
        first = statistics.median(w["first_token"] for w in waits)
        total = statistics.median(w["total"] for w in waits)
        print(f"{label:18s} first token {first:5.1f} s   whole answer {total:5.1f} s   (median of {len(waits)})")


if __name__ == "__main__":
    main()
