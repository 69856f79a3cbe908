"""`ftbot validate` on 100 MB of two corpora against the lab's method and a naive floor.

The corpora: `generated` (chat about machine learning from a small vocabulary, three system
messages) and `high-entropy` (words drawn from a vocabulary of 200,000, a fifth of them Hangul,
every message different, so few strings repeat). The baselines, each a whole process like
`ftbot validate`: (a) the lab notebook's own code (every line into a list with json.loads,
tiktoken `encode` per value in one thread, the distributions with numpy); (b) the floor: the
file split over one process per core (byte ranges on line boundaries), each doing json.loads and
`encode_ordinary` of every string value, nothing else. Goals: ftbot takes <= 0.9x (b) and is
>= 2.5x faster than (a) on both corpora, with peak RSS under 300 MB; a 512 MB file (the
service's limit) validated in under 15 s.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from statistics import median

from infra.tokens import get_encoding

SIZE = 100 * 1024 * 1024
BIG = 512 * 1024 * 1024
"""The service's file limit (skills.validation.MAX_FILE_BYTES); the big file stays within it."""
DATA_DIR = Path("bench-data")
ENCODING = "o200k_base"
ROUNDS = 5
FLOOR_GOAL = 0.9
LAB_GOAL = 2.5
RSS_GOAL_MB = 300
BIG_GOAL_SECONDS = 15


_WORDS = (
    "a model learns patterns from data and uses them to make predictions about new examples "
    "neural network layer weight bias gradient descent loss function training validation test "
    "overfitting underfitting regularization dropout batch epoch learning rate optimizer adam "
    "transformer attention token embedding vector context window prompt completion fine-tuning "
    "supervised unsupervised reinforcement reward policy agent environment state action "
    "classification regression clustering decision tree forest boosting feature label dataset "
    "accuracy precision recall score metric benchmark evaluation bias fairness safety privacy "
    "the of and to in is that it for on with as are this by be can you your we our they their "
    "what why how when where which because so if then but or not also more most very often "
    "example simple important different common useful powerful careful large small fast slow "
    "think explain imagine compare remember notice consider describe practise review summarize"
).split()
_SYSTEMS = [
    "The system is an AI teacher that helps people learn about AI.",
    "You are a patient tutor. Explain machine learning ideas with short, concrete examples.",
    "You are a friendly assistant for a data science course. Answer briefly and check "
    "understanding with one question at the end.",
]


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 22))
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), f"{rng.randint(2, 2048)}")
    if rng.random() < 0.05:
        words.append(f"`model.fit(x_train, y_train, epochs={rng.randint(1, 50)})`")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".?!.")


def _paragraph(rng: random.Random, low: int, high: int) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(low, high)))


def _generated(rng: random.Random) -> Iterator[str]:
    """Today's corpus: a small vocabulary, three system messages."""
    while True:
        messages = [{"role": "system", "content": rng.choice(_SYSTEMS)}]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            messages.append({"role": "user", "content": _paragraph(rng, 1, 4)})
            messages.append({"role": "assistant", "content": _paragraph(rng, 2, 12)})
        yield json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


def _latin(rng: random.Random) -> str:
    word = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 12)))
    return word.capitalize() if rng.random() < 0.1 else word


def _hangul(rng: random.Random) -> str:
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(1, 4)))


def _high_entropy(rng: random.Random) -> Iterator[str]:
    """Words from a vocabulary of 200,000 (a fifth Hangul syllables), every message different."""
    vocabulary = [_hangul(rng) if i % 5 == 0 else _latin(rng) for i in range(200_000)]

    def text(low: int, high: int) -> str:
        words = rng.choices(vocabulary, k=rng.randint(low, high))
        for i in range(0, len(words), rng.randint(6, 20)):
            words[i] += rng.choice(".,?!")
        return " ".join(words)

    while True:
        messages = [{"role": "system", "content": text(8, 30)}]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            messages.append({"role": "user", "content": text(10, 60)})
            messages.append({"role": "assistant", "content": text(30, 250)})
        yield json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


CORPORA: dict[str, Callable[[random.Random], Iterator[str]]] = {
    "generated": _generated,
    "high-entropy": _high_entropy,
}


def generate(corpus: str, size: int = SIZE) -> Path:
    """A deterministic chat JSONL file of `corpus` of at most `size` bytes (kept once written)."""
    path = DATA_DIR / f"{corpus}-{size >> 20}mb.jsonl"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    written = 0
    with partial.open("wb") as out:
        for line in CORPORA[corpus](random.Random(20240718)):
            data = line.encode()
            if written + len(data) > size:
                break
            out.write(data)
            written += len(data)
    partial.replace(path)
    return path


def lab_method(path: Path) -> None:
    """(a) The lab notebook's code as written (only its file name and the imports moved)."""
    import numpy as np

    encoding = get_encoding(ENCODING)

    def num_tokens_from_messages(
        messages: list[dict[str, str]], tokens_per_message: int = 3, tokens_per_name: int = 1
    ) -> int:
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        num_tokens = 0
        for message in messages:
            if message["role"] == "assistant":
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    def print_distribution(values: list[int], name: str) -> None:
        print(f"\n#### Distribution of {name}:")
        print(f"min / max: {min(values)}, {max(values)}")
        print(f"mean / median: {np.mean(values)}, {np.median(values)}")
        print(f"p5 / p95: {np.quantile(values, 0.1)}, {np.quantile(values, 0.9)}")

    with path.open("r", encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]
    total_tokens = []
    assistant_tokens = []
    for ex in dataset:
        messages = ex.get("messages", {})
        total_tokens.append(num_tokens_from_messages(messages))
        assistant_tokens.append(num_assistant_tokens_from_messages(messages))
    print_distribution(total_tokens, "total tokens")
    print_distribution(assistant_tokens, "assistant tokens")
    print("*" * 50)


def _floor_range(path: Path, start: int, end: int) -> int:
    """Tokens of the string values of the lines that begin in [start, end)."""
    encoding = get_encoding(ENCODING)
    tokens = 0
    with path.open("rb") as f:
        position = start
        if start:  # the line under way at `start` belongs to the range before
            f.seek(start - 1)
            position += len(f.readline()) - 1
        while position < end:
            line = f.readline()
            if not line:
                break
            position += len(line)
            for message in json.loads(line)["messages"]:
                for value in message.values():
                    if isinstance(value, str):
                        tokens += len(encoding.encode_ordinary(value))
    return tokens


def floor_method(path: Path) -> int:
    """(b) The floor: one byte range per core, json.loads and `encode_ordinary` only."""
    cores = os.cpu_count() or 1
    size = path.stat().st_size
    bounds = [size * i // cores for i in range(cores + 1)]
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        return sum(pool.map(_floor_range, [path] * cores, bounds[:-1], bounds[1:]))


def _peaks(pid: int, found: dict[int, int]) -> None:
    """Record the peak resident memory (VmHWM, kB) of process `pid` and its descendants."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return
    for row in status.splitlines():
        if row.startswith("VmHWM"):
            found[pid] = max(found.get(pid, 0), int(row.split()[1]))
    for child in children:
        _peaks(int(child), found)


def measured(command: list[str]) -> tuple[float, float, float, float]:
    """Run `command` as its own process: wall and CPU seconds, and the peak RSS in MB of its
    largest process and of all its processes added up (each one's own peak, from /proc)."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peaks: dict[int, int] = {}
    while child.poll() is None:
        _peaks(child.pid, peaks)
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{command[0]} exited with {child.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return seconds, used, max(peaks.values(), default=0) / 1024, sum(peaks.values()) / 1024


def _compare(corpus: str, ftbot: str) -> None:
    """Time ftbot, (a) and (b) on `corpus`'s 100 MB file in turn, ROUNDS times, and print them."""
    path = generate(corpus)
    print(f"  {corpus}: {path} ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    python = sys.executable
    ours, lab, floor = [], [], []
    largest = tree = 0.0
    for _ in range(ROUNDS):
        seconds, cpu, big, peak = measured([ftbot, "validate", "--json", str(path)])
        ours.append((seconds, cpu))
        largest, tree = max(largest, big), max(tree, peak)
        lab.append(measured([python, "-m", "benchmarks.validation", "lab", str(path)])[:2])
        floor.append(measured([python, "-m", "benchmarks.validation", "floor", str(path)])[:2])
        print(
            f"    round: ftbot {seconds:.2f} s, (a) {lab[-1][0]:.2f} s, (b) {floor[-1][0]:.2f} s",
            flush=True,
        )
    (best, best_cpu), (a, a_cpu), (b, b_cpu) = min(ours), min(lab), min(floor)
    faster = median(x[0] / o[0] for x, o in zip(lab, ours, strict=True))
    takes = median(o[0] / f[0] for o, f in zip(ours, floor, strict=True))
    faster_cpu = median(x[1] / o[1] for x, o in zip(lab, ours, strict=True))
    takes_cpu = median(o[1] / f[1] for o, f in zip(ours, floor, strict=True))
    print(f"    ftbot validate:    {best:6.2f} s  ({best_cpu:5.1f} s CPU)")
    print(
        f"    (a) lab notebook:  {a:6.2f} s  ({a_cpu:5.1f} s CPU)  "
        f"ftbot {faster:.2f}x faster (goal >= {LAB_GOAL}; CPU {faster_cpu:.2f}x)"
    )
    print(
        f"    (b) naive floor:   {b:6.2f} s  ({b_cpu:5.1f} s CPU)  "
        f"ftbot takes {takes:.2f}x (goal <= {FLOOR_GOAL}; CPU {takes_cpu:.2f}x)"
    )
    print(
        f"    ftbot peak RSS: {largest:.0f} MB largest process (goal < {RSS_GOAL_MB}), "
        f"{tree:.0f} MB in all",
        flush=True,
    )


def run() -> None:
    """Compare the three methods on each corpus, then time ftbot on each corpus's 512 MB file.

    Each method is a whole process (interpreter, imports, encoding load, work), as `ftbot
    validate` is. The machine may be shared: the methods run in turn ROUNDS times, and each
    ratio is the median of the rounds' ratios (a round's three runs share the machine's load);
    the best times and CPU seconds (all processes), and the ratios of CPU seconds, which suffer
    less from a busy machine, are printed too.
    """
    print(f"  {os.cpu_count()} cores; best of {ROUNDS}, ratios the median of the rounds' ratios")
    ftbot = str(Path(sys.executable).with_name("ftbot"))
    for corpus in CORPORA:
        _compare(corpus, ftbot)
    for corpus in CORPORA:
        path = generate(corpus, BIG)
        seconds, cpu, largest, _ = measured([ftbot, "validate", "--json", str(path)])
        print(
            f"  {corpus} {path.stat().st_size / 2**20:.0f} MiB: ftbot {seconds:.2f} s "
            f"({cpu:.1f} s CPU; goal < {BIG_GOAL_SECONDS} s), peak RSS {largest:.0f} MB",
            flush=True,
        )


if (
    __name__ == "__main__"
):  # one method as its own process: `python -m benchmarks.validation lab FILE`
    method = {"lab": lab_method, "floor": floor_method}[sys.argv[1]]
    method(Path(sys.argv[2]))
