"""Time the shipped models on a realistic RAG prompt and check whether they cite and refuse as asked.

    python bench/llm_timings.py [--threads 2] [--runs 2] [--models qwen2.5-0.5b qwen2.5-1.5b]

For each shipped model: the time to get the model file ready and to load it; then for each prompt
wording and each question, the time to first token, total answer time and decode speed, with a
mechanical judgement of the answer (cited? refused?). Timed runs start from an empty KV cache
(llama.cpp otherwise reuses the longest prompt prefix shared with the previous call); one extra "warm"
run asks the next question with the passages in another order, as a second question in a session would,
so only the system prompt and examples are reused. The load column is the 1-minute load average, to
spot runs slowed by other work on the machine; "peak" is the decode speed over the fastest stretch of
16 tokens, which estimates the speed on an idle machine when other work comes and goes. --out also saves every run and answer as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings  # noqa: E402
from assistant.models import LlamaCppModel, shipped_model_path  # noqa: E402

REFUSAL = "The reports do not say."
MAX_TOKENS = 200
PEAK_WINDOW = 16
REPORT = Path(__file__).resolve().parent.parent / "corpus" / "derby-city-2017-peer-challenge-report.txt"

# Each passage is the report text from the first phrase up to and including the second.
PASSAGE_SPANS = [
    ("The council faces ongoing serious governance", "its financial systems and control environment."),
    ("Capacity and capability across departments", "limited resource and capacity in some frontline services too."),
    ("Close the 2015/16 and 2016/17 accounts.", "to the standards expected and required"),
    ("Significant and serious concerns about a number of internal controls", "raised in these reports."),
    ("At the time of the onsite element of the peer challenge", "what they should and should not be doing."),
]

# Keys starting "unanswerable" should get exactly REFUSAL; the others are answered by the passages.
QUESTIONS = {
    "answerable": "What did peers say about Derby's accounts?",
    "unanswerable": "What did peers say about Derby's library closures?",
    "answerable-2": "What did peers say about the interim Director of Finance?",
    "unanswerable-2": "What did peers say about Derby's waste collection?",
}

SYSTEM_PROMPTS = {
    # The best of those tried for both shipped models (see LLM_TIMINGS.md).
    "rules": (
        "You answer questions about UK council peer challenge reports, using only the numbered passages "
        "you are given.\n"
        "Rules:\n"
        "- Answer in 2 to 4 sentences.\n"
        "- End every sentence with the number of the passage it comes from, in square brackets, like [2].\n"
        "- Use only facts stated in the passages; do not add outside knowledge.\n"
        f"- If the passages do not contain the answer, reply exactly: {REFUSAL}"
    ),
    # Says who wrote the passages: without it the models refuse "what did peers say" because no
    # passage mentions peers.
    "peers": (
        "You answer questions about LGA corporate peer challenge reports on UK councils. The numbered passages "
        "in the user's message are excerpts from those reports, written by the peer team, so what a passage says "
        "is what the peers said.\n"
        "Answer using only the passages. Write 2 to 4 sentences, and end each sentence with the number of the "
        "passage it comes from in square brackets, for example [2].\n"
        f"If no passage is about the subject of the question, reply exactly: {REFUSAL}"
    ),
    # "peers" plus brevity, used with two worked example turns (FEW_SHOT) before the real question.
    "brief": (
        "You answer questions about LGA corporate peer challenge reports on UK councils, using only the numbered "
        "passages the user gives you. The passages were written by the peer team, so what a passage says is what "
        "the peers said.\n"
        "Give a brief summary: 2 to 4 short sentences, under 80 words in total. Pick the most important points "
        "from different passages rather than copying one passage. End each sentence with the number of the "
        "passage it comes from, in square brackets, like [2].\n"
        f"If no passage is about the subject of the question, reply exactly: {REFUSAL}"
    ),
}

# Two invented example turns, one answered with citations and one refused. The models copy the form
# of a shown answer far more reliably than a described one, but they also copy its facts: with other
# passage orders or off-topic questions the answers contained the invented Green Flag award. Kept only
# for comparison; do not ship it (see LLM_TIMINGS.md).
FEW_SHOT = [
    {
        "role": "user",
        "content": "Passages:\n"
        "[1] The peer team found that the housing repairs backlog had fallen by a third since 2016, helped by "
        "a new maintenance contract.\n\n"
        "[2] The council's parks service won a Green Flag award in 2017.\n\n"
        "[3] Councillors told us that scrutiny committees rarely challenge cabinet decisions on housing.\n\n"
        "Question: What did peers say about housing?",
    },
    {
        "role": "assistant",
        "content": "Peers found that the housing repairs backlog had fallen by a third since 2016, helped by a "
        "new maintenance contract [1]. They also heard that scrutiny committees rarely challenge cabinet "
        "decisions on housing [3].",
    },
    {
        "role": "user",
        "content": "Passages:\n"
        "[1] The council's parks service won a Green Flag award in 2017.\n\n"
        "[2] Staff were positive about the new chief executive.\n\n"
        "Question: What did peers say about school transport?",
    },
    {"role": "assistant", "content": REFUSAL},
]

# Wordings compared: (system prompt, whether the few-shot turns precede the question).
PROMPTS = {
    "rules": ("rules", False),
    "peers": ("peers", False),
    "shots": ("brief", True),
}

# Nothing after the question: rules repeated after the passages were copied as the answer
# (the 0.5B replied "[1] The reports do not say." to everything) or broke refusals (see LLM_TIMINGS.md).
USER_TEMPLATE = "Passages:\n{passages}\n\nQuestion: {question}"


@dataclass
class Run:
    model: str
    prompt: str
    question: str
    warm: bool
    prompt_tokens: int
    load_average: float
    answer_tokens: int
    first_token_s: float
    total_s: float
    peak_tokens_per_s: float  # fastest stretch of PEAK_WINDOW pieces: decode speed when nothing competes
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


def messages_for(prompt: str, question: str, texts: list[str]) -> list[dict[str, str]]:
    system, with_examples = PROMPTS[prompt]
    return [
        {"role": "system", "content": SYSTEM_PROMPTS[system]},
        *(FEW_SHOT if with_examples else []),
        {"role": "user", "content": user_message(question, texts)},
    ]


def timed_run(model: LlamaCppModel, prompt: str, question: str, texts: list[str], warm: bool) -> Run:
    llama = model._llama  # the bench looks inside to reset the KV cache and count tokens
    if not warm:
        llama.reset()
    load_average = os.getloadavg()[0]
    start = time.perf_counter()
    pieces = []
    arrivals = []
    for piece in model.stream(messages_for(prompt, question, texts), max_tokens=MAX_TOKENS, temperature=0.0):
        arrivals.append(time.perf_counter() - start)
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
        load_average=load_average,
        answer_tokens=answer_tokens,
        first_token_s=arrivals[0] if arrivals else total,
        total_s=total,
        peak_tokens_per_s=peak_rate(arrivals),
        answer=answer,
    )


def peak_rate(arrivals: list[float]) -> float:
    """Pieces per second over the fastest run of PEAK_WINDOW consecutive pieces (each piece is ~1 token)."""
    if len(arrivals) <= PEAK_WINDOW:
        return 0.0
    fastest = min(b - a for a, b in zip(arrivals, arrivals[PEAK_WINDOW:]))
    return PEAK_WINDOW / fastest


def judge(answer: str, key: str) -> str:
    """A mechanical first look at quality; the write-up adds a human reading."""
    text = answer.strip()
    if key.startswith("unanswerable"):
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


def peak_prefill_rate(model: LlamaCppModel, texts: list[str], tries: int = 5) -> float:
    """Prompt tokens read per second, best of `tries` reads of 256 tokens: the idle-machine speed."""
    llama = model._llama
    tokens = llama.tokenize(" ".join(texts).encode(), add_bos=True)[:256]
    fastest = float("inf")
    for _ in range(tries):
        llama.reset()
        start = time.perf_counter()
        llama.eval(tokens)
        fastest = min(fastest, time.perf_counter() - start)
    return len(tokens) / fastest


def bench_model(name: str, settings: Settings, runs: int, prompts: list[str]) -> tuple[float, float, list[Run]]:
    start = time.perf_counter()
    path = shipped_model_path(name, settings.cache_dir)
    prepare = time.perf_counter() - start
    model = LlamaCppModel(path, settings.context_tokens, settings.threads, name=name)
    texts = passages()
    print(f"{name}: reads prompts at up to {peak_prefill_rate(model, texts):.0f} tokens/s", flush=True)
    results = []
    for prompt in prompts:
        for key, question in QUESTIONS.items():
            for _ in range(runs):
                results.append(timed_run(model, prompt, question, texts, warm=False))
                print(_row(results[-1], key), flush=True)
    # The next question in a session shares only the system prompt (and examples) with the last one;
    # reversed passages stand in for a different retrieval result.
    results.append(timed_run(model, prompts[0], QUESTIONS["answerable"], texts[::-1], warm=True))
    print(_row(results[-1], "answerable"), flush=True)
    return prepare, model.load_seconds, results


def _row(run: Run, key: str) -> str:
    return (
        f"{run.model:13} {run.prompt:6} {key:14} {'warm' if run.warm else 'cold':4} "
        f"{run.prompt_tokens:6d} {run.first_token_s:7.2f} {run.total_s:7.2f} {run.answer_tokens:5d} "
        f"{run.decode_tokens_per_s:6.1f} {run.peak_tokens_per_s:6.1f} {run.load_average:5.1f}  {judge(run.answer, key)}"
    )


def _as_dict(run: Run) -> dict[str, object]:
    return asdict(run) | {"decode_tokens_per_s": run.decode_tokens_per_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--prompts", nargs="+", default=list(PROMPTS), choices=list(PROMPTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write all runs and answers as JSON here")
    args = parser.parse_args()
    settings = Settings.from_env(threads=args.threads)
    print(f"{'model':13} {'prompt':6} {'question':14} run  {'p_tok':>6} {'ttft_s':>7} {'total_s':>7} "
          f"{'a_tok':>5} {'tok/s':>6} {'peak':>6} {'load':>5}  judgement")
    report = {}
    for name in args.models:
        prepare, load, results = bench_model(name, settings, args.runs, args.prompts)
        report[name] = {"prepare_s": prepare, "load_s": load, "runs": [_as_dict(r) for r in results]}
        print(f"{name}: model file ready in {prepare:.1f}s, loaded in {load:.2f}s")
        for prompt in args.prompts:
            for question in QUESTIONS.values():
                cold = [r for r in results if r.prompt == prompt and r.question == question and not r.warm]
                print(f"  {prompt:6} {question:58} best of {len(cold)}: first token "
                      f"{min(r.first_token_s for r in cold):6.2f}s, total {min(r.total_s for r in cold):6.2f}s, "
                      f"decode {max(r.decode_tokens_per_s for r in cold):5.1f} tok/s, "
                      f"peak {max(r.peak_tokens_per_s for r in cold):5.1f} tok/s")
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "models": report}, indent=2))


if __name__ == "__main__":
    main()
