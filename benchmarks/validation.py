"""`ftbot validate` on a generated 100 MB chat file against the lab's method and the floor.

(a) the lab's notebook: every line into a list with json.loads, then tiktoken `encode` per value in
one thread; (b) the floor: byte ranges over one process per core, each doing only json.loads and
`encode_ordinary` of every string value. Goals: >= 2x faster than (a), within 1.3x of (b), and the
validator's peak RSS under 300 MB.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from statistics import median

from infra.tokens import get_encoding

SIZE = 100 * 1024 * 1024
DATA_DIR = Path("bench-data")
ENCODING = "o200k_base"
ROUNDS = 5

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


def _examples(rng: random.Random) -> Iterator[str]:
    while True:
        messages = [{"role": "system", "content": rng.choice(_SYSTEMS)}]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            messages.append({"role": "user", "content": _paragraph(rng, 1, 4)})
            messages.append({"role": "assistant", "content": _paragraph(rng, 2, 12)})
        yield json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


def generate(path: Path, size: int = SIZE) -> Path:
    """Write a deterministic chat JSONL file of about `size` bytes at `path` (kept if present)."""
    if path.exists() and path.stat().st_size >= size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    written = 0
    with partial.open("w", encoding="utf-8") as out:
        for line in _examples(random.Random(20240718)):
            out.write(line)
            written += len(line.encode())
            if written >= size:
                break
    partial.replace(path)
    return path


def lab_method(path: Path) -> int:
    """(a) The lab's notebook, as written: a list of every example, then per example its total
    and assistant tokens with `encode` in one thread, then the distributions with numpy."""
    import numpy as np

    encoding = get_encoding(ENCODING)
    with path.open(encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]
    total_tokens, assistant_tokens = [], []
    for example in dataset:
        messages = example.get("messages", {})
        total = 0
        for message in messages:
            total += 3
            for key, value in message.items():
                total += len(encoding.encode(value))
                if key == "name":
                    total += 1
        total_tokens.append(total + 3)
        assistant_tokens.append(
            sum(len(encoding.encode(m["content"])) for m in messages if m["role"] == "assistant")
        )
    for values in (total_tokens, assistant_tokens):
        np.min(values), np.max(values), np.mean(values), np.median(values)
        np.quantile(values, 0.1), np.quantile(values, 0.9)
    return sum(total_tokens)


def _floor_range(path: Path, start: int, end: int) -> int:
    encoding = get_encoding(ENCODING)
    tokens = 0
    with path.open("rb") as f:
        f.seek(start)
        if start:
            f.readline()
        position = f.tell()
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
        parts = pool.map(_floor_range, [path] * cores, bounds[:-1], bounds[1:])
        return sum(parts)


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


def run() -> None:
    """Generate the file, time the three methods in one run and print them side by side.

    Each method is a whole process (interpreter, imports, encoding load, work), as `ftbot
    validate` is. The machine may be shared: the methods run in turn ROUNDS times, and each
    ratio is the median of the rounds' ratios (a round's three runs share the machine's load);
    the best times and CPU seconds (all processes), which suffer less from a busy machine, are
    printed too.
    """
    path = generate(DATA_DIR / "chat-100mb.jsonl")
    print(
        f"  file: {path} ({path.stat().st_size / 1e6:.0f} MB), {os.cpu_count()} cores", flush=True
    )
    python = sys.executable
    ftbot = str(Path(python).with_name("ftbot"))
    ours, lab, floor = [], [], []
    largest = tree = 0.0
    for _ in range(ROUNDS):
        seconds, cpu, big, peak = measured([ftbot, "validate", "--json", str(path)])
        ours.append((seconds, cpu))
        largest, tree = max(largest, big), max(tree, peak)
        lab.append(measured([python, "-m", "benchmarks.validation", "lab", str(path)])[:2])
        floor.append(measured([python, "-m", "benchmarks.validation", "floor", str(path)])[:2])
        print(
            f"  round: ftbot {seconds:.2f} s, (a) {lab[-1][0]:.2f} s, (b) {floor[-1][0]:.2f} s",
            flush=True,
        )
    (best, best_cpu), (a, a_cpu), (b, b_cpu) = min(ours), min(lab), min(floor)
    faster = median(x[0] / o[0] for x, o in zip(lab, ours, strict=True))
    takes = median(o[0] / f[0] for o, f in zip(ours, floor, strict=True))
    print(f"  best of {ROUNDS}; ratios are the median of the rounds' ratios")
    print(f"  ftbot validate, whole process: {best:6.2f} s  ({best_cpu:.1f} s CPU)")
    print(
        f"  (a) lab notebook method:       {a:6.2f} s  ({a_cpu:.1f} s CPU)  "
        f"ftbot {faster:.2f}x faster (goal >= 2)"
    )
    print(
        f"  (b) floor, process per core:   {b:6.2f} s  ({b_cpu:.1f} s CPU)  "
        f"ftbot takes {takes:.2f}x (goal <= 1.3)"
    )
    print(f"  ftbot peak RSS: {largest:.0f} MB largest process (goal < 300), {tree:.0f} MB in all")


if (
    __name__ == "__main__"
):  # one method as its own process: `python -m benchmarks.validation lab FILE`
    method = {"lab": lab_method, "floor": floor_method}[sys.argv[1]]
    method(Path(sys.argv[2]))
