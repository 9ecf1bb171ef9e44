"""Time the shipped models on a realistic RAG prompt and check whether they cite and refuse as asked.

    python bench/llm_timings.py [--threads 2] [--runs 2] [--models qwen2.5-0.5b qwen2.5-1.5b]

For each shipped model: load time; then for each system-prompt wording and each question, the time to
first token, total answer time and decode speed. Every timed run starts from an empty KV cache
(llama.cpp otherwise reuses the longest matching prompt prefix from the previous call, which hides the
prompt-reading cost); one extra run repeats the last prompt warm to show what that reuse saves.
Results are printed as a table; --out also saves every run and answer as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings  # noqa: E402
from assistant.models import LlamaCppModel, shipped_model_path  # noqa: E402

REFUSAL = "The reports do not say."
REPORT = Path(__file__).resolve().parent.parent / "corpus" / "derby-city-2017-peer-challenge-report.txt"

# Each passage is the report text from the first phrase up to and including the second.
PASSAGE_SPANS = [
    ("The council faces ongoing serious governance", "its financial systems and control environment."),
    ("Capacity and capability across departments", "limited resource and capacity in some frontline services too."),
    ("Close the 2015/16 and 2016/17 accounts.", "to the standards expected and required"),
    ("Significant and serious concerns about a number of internal controls", "raised in these reports."),
    ("At the time of the onsite element of the peer challenge", "what they should and should not be doing."),
]

QUESTIONS = {
    "answerable": "What did peers say about Derby's accounts?",
    "unanswerable": "What did peers say about Derby's library closures?",
}

SYSTEM_PROMPTS = {
    "rules": (
        "You answer questions about UK council peer challenge reports, using only the numbered passages "
        "you are given.\n"
        "Rules:\n"
        "- Answer in 2 to 4 sentences.\n"
        "- End every sentence with the number of the passage it comes from, in square brackets, like [2].\n"
        "- Use only facts stated in the passages; do not add outside knowledge.\n"
        f"- If the passages do not contain the answer, reply exactly: {REFUSAL}"
    ),
    "prose": (
        "Answer the question using only the passages below. Write 2-4 sentences and end each sentence "
        "with the number of the passage it comes from, for example [3]. If the passages do not answer "
        f"the question, reply with exactly this sentence and nothing else: {REFUSAL}"
    ),
    "example": (
        "You are a careful assistant that answers questions about council peer challenge reports.\n"
        "Use only the numbered passages in the user's message. Write 2 to 4 short sentences. "
        "Finish each sentence with the passage number in square brackets.\n"
        "Example of the format: Peers found the budget process fragmented [2]. They asked the council "
        "to link spending to its priorities [4].\n"
        f"If the passages do not answer the question, write only: {REFUSAL}"
    ),
}

# Small models forget instructions that sit before ~600 tokens of passages, so the user message
# repeats the key rule after the passages, right where the answer starts.
USER_TEMPLATE = (
    "Passages:\n{passages}\n\n"
    "Question: {question}\n"
    f"Answer in 2-4 sentences, each ending with its passage number like [1]. "
    f"If the passages do not answer the question, reply exactly: {REFUSAL}"
)


@dataclass
class Run:
    model: str
    prompt: str
    question: str
    warm: bool
    prompt_tokens: int
    answer_tokens: int
    first_token_s: float
    total_s: float
    answer: str

    @property
    def decode_tokens_per_s(self) -> float:
        decode_time = self.total_s - self.first_token_s
        return (self.answer_tokens - 1) / decode_time if decode_time > 0 else 0.0


def passages() -> list[str]:
    text = " ".join(REPORT.read_text(encoding="utf-8").split())
    found = []
    for start, end in PASSAGE_SPANS:
        i = text.index(start)
        found.append(text[i : text.index(end, i) + len(end)])
    return found


def user_message(question: str, texts: list[str]) -> str:
    numbered = "\n\n".join(f"[{n}] {t}" for n, t in enumerate(texts, 1))
    return USER_TEMPLATE.format(passages=numbered, question=question)


def timed_run(model: LlamaCppModel, prompt: str, question: str, texts: list[str], warm: bool) -> Run:
    llama = model._llama  # the bench looks inside to reset the KV cache and count tokens
    if not warm:
        llama.reset()
    messages = [
        {"role": "system", "content": SYSTEM_PROMPTS[prompt]},
        {"role": "user", "content": user_message(question, texts)},
    ]
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in model.stream(messages, max_tokens=320, temperature=0.0):
        if first is None:
            first = time.perf_counter() - start
        pieces.append(piece)
    total = time.perf_counter() - start
    answer = "".join(pieces)
    answer_tokens = len(llama.tokenize(answer.encode(), add_bos=False, special=True))
    return Run(
        model=model.name,
        prompt=prompt,
        question=question,
        warm=warm,
        prompt_tokens=llama.n_tokens - answer_tokens,
        answer_tokens=answer_tokens,
        first_token_s=first or total,
        total_s=total,
        answer=answer,
    )


def judge(answer: str, question: str) -> str:
    """A mechanical first look at quality; the write-up adds a human reading."""
    text = answer.strip()
    if question == "unanswerable":
        if text == REFUSAL:
            return "refused exactly"
        return "refused, not verbatim" if "do not say" in text.lower() else "ANSWERED (should refuse)"
    if REFUSAL.lower() in text.lower():
        return "REFUSED (should answer)"
    sentences = [s for s in re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", text) if s.strip()]
    cited = [s for s in sentences if re.search(r"\[\d\](\s*\[\d\])*\s*\.?$", s.strip())]
    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    bad = [n for n in numbers if not 1 <= n <= len(PASSAGE_SPANS)]
    verdict = f"{len(sentences)} sentences, {len(cited)} end with [n], cites {numbers}"
    return verdict + (f", INVALID {bad}" if bad else "")


def bench_model(name: str, settings: Settings, runs: int, prompts: list[str]) -> tuple[float, float, list[Run]]:
    start = time.perf_counter()
    path = shipped_model_path(name, settings.cache_dir)
    prepare = time.perf_counter() - start
    model = LlamaCppModel(path, settings.context_tokens, settings.threads, name=name)
    texts = passages()
    results = []
    for prompt in prompts:
        for key, question in QUESTIONS.items():
            for _ in range(runs):
                results.append(timed_run(model, prompt, question, texts, warm=False))
                print(_row(results[-1], key), flush=True)
    results.append(timed_run(model, prompts[-1], QUESTIONS["unanswerable"], texts, warm=True))
    print(_row(results[-1], "unanswerable"), flush=True)
    return prepare, model.load_seconds, results


def _row(run: Run, key: str) -> str:
    return (
        f"{run.model:13} {run.prompt:8} {key:12} {'warm' if run.warm else 'cold':4} "
        f"{run.prompt_tokens:6d} {run.first_token_s:7.2f} {run.total_s:7.2f} {run.answer_tokens:5d} "
        f"{run.decode_tokens_per_s:6.1f}  {judge(run.answer, key)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--prompts", nargs="+", default=list(SYSTEM_PROMPTS), choices=list(SYSTEM_PROMPTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write all runs and answers as JSON here")
    args = parser.parse_args()
    settings = Settings.from_env(threads=args.threads)
    print(f"{'model':13} {'prompt':8} {'question':12} run  {'p_tok':>6} {'ttft_s':>7} {'total_s':>7} "
          f"{'a_tok':>5} {'tok/s':>6}  judgement")
    report = {}
    for name in args.models:
        prepare, load, results = bench_model(name, settings, args.runs, args.prompts)
        cold = [r for r in results if not r.warm]
        report[name] = {
            "prepare_s": prepare,
            "load_s": load,
            "median_first_token_s": statistics.median(r.first_token_s for r in cold),
            "median_total_s": statistics.median(r.total_s for r in cold),
            "median_decode_tokens_per_s": statistics.median(r.decode_tokens_per_s for r in cold),
            "runs": [asdict(r) | {"decode_tokens_per_s": r.decode_tokens_per_s} for r in results],
        }
        print(f"{name}: model file ready in {prepare:.1f}s, loaded in {load:.2f}s, median cold first token "
              f"{report[name]['median_first_token_s']:.2f}s, median total {report[name]['median_total_s']:.2f}s, "
              f"median decode {report[name]['median_decode_tokens_per_s']:.1f} tok/s")
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "models": report}, indent=2))


if __name__ == "__main__":
    main()
