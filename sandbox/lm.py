"""The sandbox's trainable model: a pre-trained token trigram base, adapted by fine-tuning.

The base (`base_model.py`) is a Kneser-Ney trigram model of general English, o200k tokens. A
fine-tune adds the training data on top of it as hierarchical Dirichlet (MAP) adaptation: at each
step the batch's assistant turns add counts, weighed by the learning-rate multiplier, to
bigram and trigram tables whose prior is the base's prediction, so the model moves from the
base towards the data as it sees more of it. A small cache of the conversation so far (the
system and user messages, and the turn's own earlier tokens) stands in for a chat model's
attention to its prompt. Loss and accuracy are measured on this model, never invented. Chat
answers come from the closest remembered conversation, or are sampled from the model.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tiktoken

from sandbox.base_model import BOS, EOS, SPACE, BaseModel

TAU_BIGRAM = 20.0
TAU_TRIGRAM = 20.0
"""Prior strength of the base in the adapted bigram and trigram tables (in learned counts)."""
CACHE_WEIGHT = 0.04
"""Share of the conversation cache in every prediction."""
FT_CANDIDATES = 6
"""Most-learned continuations per context that may be the most likely token."""
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Turn:
    """One assistant turn to learn: the conversation's tokens before it, and its own tokens."""

    context: tuple[int, ...]
    target: tuple[int, ...]


@dataclass(frozen=True)
class Example:
    """One training conversation, as the model and the memory use it."""

    system: str
    prompt: str
    answer: str
    turns: tuple[Turn, ...]
    tokens: int


def text_of(content: object) -> str:
    """The text of a message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def chat_tokens(messages: Sequence[dict[str, object]], enc: tiktoken.Encoding) -> int:
    """Tokens of a chat prompt: 3 per message, each value, 1 per name, 3 for the reply primer."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if key in ("role", "content", "name") and value is not None:
                text = text_of(value) if key == "content" else str(value)
                total += len(enc.encode(text, disallowed_special=()))
                if key == "name":
                    total += 1
    return total


def conversation(
    messages: Sequence[dict[str, object]], enc: tiktoken.Encoding
) -> tuple[str, str, str, list[Turn]]:
    """(system, last prompt, last answer, assistant turns to learn) of a chat."""
    system, prompt, answer = "", "", ""
    turns: list[Turn] = []
    history: list[int] = []
    for message in messages:
        role, content = message.get("role"), text_of(message.get("content"))
        tokens = enc.encode(content, disallowed_special=())
        if role == "system":
            system = content
        elif role == "user":
            prompt = content
        elif role == "assistant":
            if message.get("weight", 1) != 0:
                turns.append(Turn(tuple(history), tuple(tokens)))
            answer = content
        history += [BOS, *tokens]
    return system, prompt, answer, turns


def parse_examples(text: str, enc: tiktoken.Encoding) -> list[Example]:
    """Training conversations from chat-format JSONL (lines that do not parse are skipped)."""
    examples: list[Example] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            continue
        messages = [m for m in messages if isinstance(m, dict)]
        system, prompt, answer, turns = conversation(messages, enc)
        if turns:
            examples.append(
                Example(system, prompt, answer, tuple(turns), chat_tokens(messages, enc))
            )
    return examples


@dataclass(frozen=True)
class Preference:
    """One DPO example: the prompt's tokens, the preferred and the non-preferred answer."""

    chosen: Turn
    rejected: Turn
    tokens: int


def _answer(outputs: object, enc: tiktoken.Encoding) -> tuple[int, ...]:
    if not isinstance(outputs, list):
        return ()
    text = "".join(
        text_of(m.get("content"))
        for m in outputs
        if isinstance(m, dict) and m.get("role") == "assistant"
    )
    return tuple(enc.encode(text, disallowed_special=()))


def parse_preferences(text: str, enc: tiktoken.Encoding) -> list[Preference]:
    """Preference pairs from DPO-format JSONL (lines that do not parse are skipped)."""
    pairs: list[Preference] = []
    for line in text.splitlines():
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("input"), dict):
            continue
        messages = [m for m in record["input"].get("messages") or [] if isinstance(m, dict)]
        history: list[int] = []
        for message in messages:
            history += [BOS, *enc.encode(text_of(message.get("content")), disallowed_special=())]
        chosen = _answer(record.get("preferred_output"), enc)
        rejected = _answer(record.get("non_preferred_output"), enc)
        if chosen and rejected:
            prompt = chat_tokens(messages, enc)
            pairs.append(
                Preference(
                    Turn(tuple(history), chosen),
                    Turn(tuple(history), rejected),
                    prompt + len(chosen) + len(rejected),
                )
            )
    return pairs


def _positions(turn: Turn) -> tuple[list[np.ndarray], np.ndarray]:
    """Context keys of every predicted position (orders 0-2) and the tokens predicted."""
    seq = np.array([BOS, BOS, *turn.target, EOS], dtype=np.int64)
    at = np.arange(2, len(seq))
    one = seq[at - 1]
    return [np.zeros(len(at), dtype=np.int64), one, one * SPACE + seq[at - 2]], seq[at]


MEMO_CANDIDATES = 250_000
"""At most this many candidates are kept per model, over the turns it scores (48 bytes each, so
12 MB at most; a sample file's job needs about 90,000); turns beyond it are scored from
scratch."""


@dataclass(frozen=True)
class _Fixed:
    """What scoring a turn needs that fine-tuning never changes: per predicted position, its
    context keys and the candidates that are not learned ones (the target first, then the base's
    likeliest tokens and the conversation's), with their base probabilities and cache shares."""

    contexts: list[np.ndarray]
    b: list[int]
    ab: list[int]
    """Each position's bigram and trigram context keys."""
    targets: list[int]
    base_top: list[set[int]]
    context: frozenset[int]
    first: dict[int, int]
    """Each target token's first position (a later position has it in its cache)."""
    pool: list[int]
    b_at: list[int]
    ab_at: list[int]
    """Each candidate of the pool, and its position's context keys."""
    base_p: np.ndarray
    cache_share: np.ndarray
    starts: np.ndarray

    def has(self, i: int, token: int) -> bool:
        """Whether `token` is one of position `i`'s fixed candidates."""
        return (
            token == self.targets[i]
            or token in self.base_top[i]
            or token in self.context
            or self.first.get(token, i) < i
        )


class NGramModel:
    """The base model plus what fine-tuning added: adapted bigram and trigram tables."""

    def __init__(self, base: BaseModel) -> None:
        self.base = base
        self.eos = EOS
        self.bi: dict[int, dict[int, float]] = {}
        self.bi_total: dict[int, float] = {}
        self.tri: dict[int, dict[int, float]] = {}
        self.tri_total: dict[int, float] = {}
        self.penalty: dict[int, dict[int, float]] = {}
        """Log-factors on trigram predictions that preference training pushed down."""
        self._fixed: dict[Turn, _Fixed] = {}
        self._memo_left = MEMO_CANDIDATES

    def state(self) -> dict[str, dict[str, Any]]:
        """What fine-tuning added to the base, as JSON-ready tables (a fine-tuned model's
        weights, which a continued job starts from)."""

        def table(rows: dict[int, dict[int, float]]) -> dict[str, Any]:
            return {str(k): {str(t): w for t, w in row.items()} for k, row in rows.items()}

        return {
            "bi": table(self.bi),
            "tri": table(self.tri),
            "penalty": table(self.penalty),
            "totals": {
                "bi": {str(k): v for k, v in self.bi_total.items()},
                "tri": {str(k): v for k, v in self.tri_total.items()},
            },
        }

    @classmethod
    def restore(cls, base: BaseModel, state: dict[str, dict[str, Any]]) -> NGramModel:
        """The model whose `state()` this is, on `base`."""

        def table(rows: dict[str, Any]) -> dict[int, dict[int, float]]:
            return {int(k): {int(t): float(w) for t, w in row.items()} for k, row in rows.items()}

        model = cls(base)
        model.bi, model.tri = table(state["bi"]), table(state["tri"])
        model.penalty = table(state["penalty"])
        model.bi_total = {int(k): float(v) for k, v in state["totals"]["bi"].items()}
        model.tri_total = {int(k): float(v) for k, v in state["totals"]["tri"].items()}
        return model

    def add(self, turn: Turn, weight: float) -> None:
        """Learn one turn with the given weight (the learning-rate multiplier's share)."""
        contexts, tokens = _positions(turn)
        for b, ab, token in zip(
            contexts[1].tolist(), contexts[2].tolist(), tokens.tolist(), strict=True
        ):
            for table, totals, key in ((self.bi, self.bi_total, b), (self.tri, self.tri_total, ab)):
                row = table.setdefault(key, {})
                row[token] = row.get(token, 0.0) + weight
                totals[key] = totals.get(key, 0.0) + weight

    def _adapt(
        self, base_p: np.ndarray, b: list[int], ab: list[int], tokens: list[int]
    ) -> np.ndarray:
        """The fine-tuned probabilities of (context, token) pairs from the base's."""
        none: dict[int, float] = {}
        bi, tri = self.bi, self.tri
        bi_c = np.array([bi.get(x, none).get(t, 0.0) for x, t in zip(b, tokens, strict=True)])
        bi_n = np.array([self.bi_total.get(x, 0.0) for x in b])
        tri_c = np.array([tri.get(x, none).get(t, 0.0) for x, t in zip(ab, tokens, strict=True)])
        tri_n = np.array([self.tri_total.get(x, 0.0) for x in ab])
        q = (bi_c + TAU_BIGRAM * base_p) / (bi_n + TAU_BIGRAM)
        q = (tri_c + TAU_TRIGRAM * q) / (tri_n + TAU_TRIGRAM)
        if self.penalty:
            norms = {x: self._norm(x) for x in set(ab) if x in self.penalty}
            factor = np.array(
                [
                    math.exp(self.penalty[x].get(t, 0.0)) / norms[x] if x in norms else 1.0
                    for x, t in zip(ab, tokens, strict=True)
                ]
            )
            q = q * factor
        return np.asarray(q)

    def _norm(self, ab: int) -> float:
        """The mass left in context `ab` once its penalised tokens are pushed down."""
        row = self.penalty.get(ab)
        if not row:
            return 1.0
        b = ab // SPACE
        tokens = list(row)
        n = len(tokens)
        keys = [np.zeros(n, dtype=np.int64), np.full(n, b), np.full(n, ab)]
        base_p = self.base.prob(keys, np.array(tokens, dtype=np.int64))
        saved, self.penalty = self.penalty, {}
        try:
            q = self._adapt(base_p, [b] * len(tokens), [ab] * len(tokens), tokens)
        finally:
            self.penalty = saved
        lost = sum(float(p) * (1 - math.exp(row[t])) for p, t in zip(q, tokens, strict=True))
        return max(1e-6, 1.0 - lost)

    def push_down(self, turn: Turn, strength: float) -> None:
        """Make the turn's tokens less likely in their contexts (preference training)."""
        contexts, tokens = _positions(turn)
        for ab, token in zip(contexts[2].tolist(), tokens.tolist(), strict=True):
            row = self.penalty.setdefault(ab, {})
            row[token] = max(-8.0, row.get(token, 0.0) - strength)

    def _learned(self, b: int, ab: int) -> set[int]:
        found: set[int] = set()
        for row in (self.bi.get(b), self.tri.get(ab)):
            if row:
                found.update(sorted(row, key=row.__getitem__, reverse=True)[:FT_CANDIDATES])
        return found

    def _fixed_of(self, turn: Turn) -> _Fixed:
        """The parts of scoring `turn` that do not change (kept while the memo has room)."""
        found = self._fixed.get(turn)
        if found is not None:
            return found
        contexts, targets = _positions(turn)
        base_top = self.base.candidates(contexts)
        cache = Counter(turn.context)
        cached = len(turn.context)
        owner: list[int] = []
        pool: list[int] = []
        cache_share: list[float] = []
        tops: list[set[int]] = []
        first: dict[int, int] = {}
        target_list = targets.tolist()
        for i, target in enumerate(target_list):
            top = set(base_top[:, i].tolist())
            tops.append(top)
            fixed = top | set(cache)
            fixed.discard(target)
            for token in (target, *fixed):
                owner.append(i)
                pool.append(token)
                cache_share.append(cache.get(token, 0) / cached if cached else 0.0)
            first.setdefault(target, i)
            cache[target] += 1
            cached += 1
        at = np.array(owner)
        tokens = np.array(pool, dtype=np.int64)
        found = _Fixed(
            contexts=contexts,
            b=contexts[1].tolist(),
            ab=contexts[2].tolist(),
            targets=target_list,
            base_top=tops,
            context=frozenset(turn.context),
            first=first,
            pool=pool,
            b_at=contexts[1][at].tolist(),
            ab_at=contexts[2][at].tolist(),
            base_p=self.base.prob([c[at] for c in contexts], tokens),
            cache_share=np.array(cache_share),
            starts=np.flatnonzero(np.r_[True, at[1:] != at[:-1]]),
        )
        if len(pool) <= self._memo_left:
            self._memo_left -= len(pool)
            self._fixed[turn] = found
        return found

    def score(self, turn: Turn) -> tuple[float, int, int]:
        """(summed negative log-likelihood, tokens predicted right, tokens) of one turn: every
        position's target against its candidates (the base's likeliest tokens, the learned ones
        and the conversation's), the cache of the conversation mixed in."""
        fixed = self._fixed_of(turn)
        p = self._adapt(fixed.base_p, fixed.b_at, fixed.ab_at, fixed.pool)
        p = (1 - CACHE_WEIGHT) * p + CACHE_WEIGHT * fixed.cache_share
        truth = p[fixed.starts]
        best = np.maximum.reduceat(p, fixed.starts)
        owner: list[int] = []
        pool: list[int] = []
        for i in range(len(fixed.targets)):
            for token in self._learned(fixed.b[i], fixed.ab[i]):
                if not fixed.has(i, token):  # a learned candidate: outside the conversation
                    owner.append(i)
                    pool.append(token)
        if pool:
            at = np.array(owner)
            base_p = self.base.prob([c[at] for c in fixed.contexts], np.array(pool, dtype=np.int64))
            q = self._adapt(
                base_p, fixed.contexts[1][at].tolist(), fixed.contexts[2][at].tolist(), pool
            )
            q = (1 - CACHE_WEIGHT) * q  # outside the conversation: no share of its cache
            np.maximum.at(best, at, q)
        right = int(np.sum(truth >= best))
        return float(-np.log(truth).sum()), right, len(fixed.targets)

    def generate(
        self, context: Sequence[int], rng: random.Random, max_tokens: int, temperature: float
    ) -> list[int]:
        """Sample a turn after `context` from the model's likeliest continuations."""
        history = [BOS, BOS]
        cache = Counter(context)
        out: list[int] = []
        while len(out) < max_tokens:
            a, b = history[-2], history[-1]
            keys = [np.zeros(1, dtype=np.int64), np.array([b]), np.array([b * SPACE + a])]
            found = set(self.base.candidates(keys)[:, 0].tolist()) | self._learned(b, b * SPACE + a)
            choices = sorted(found)
            tokens = np.array(choices, dtype=np.int64)
            base_p = self.base.prob([k.repeat(len(choices)) for k in keys], tokens)
            n = len(choices)
            weights = self._adapt(base_p, [b] * n, [b * SPACE + a] * n, choices)
            total = sum(cache.values()) or 1
            weights = (1 - CACHE_WEIGHT) * weights + CACHE_WEIGHT * np.array(
                [cache.get(t, 0) / total for t in choices]
            )
            if temperature > 0:
                scaled = (weights ** (1 / max(temperature, 0.05))).tolist()
                token = rng.choices(choices, weights=scaled)[0]
            else:
                token = choices[int(np.argmax(weights))]
            if token == self.eos or token >= SPACE - 2:
                break
            out.append(token)
            history.append(token)
            cache[token] += 1
        return out


def _words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


class Memory:
    """The conversations a model has seen, found again by TF-IDF cosine similarity."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = list(examples)
        docs = [_words(e.prompt) for e in self.examples]
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(doc.keys())
        self._idf = {w: math.log((1 + len(docs)) / (1 + n)) + 1 for w, n in frequency.items()}
        self._vectors = [self.vector(e.prompt) for e in self.examples]
        self._systems = [self.vector(e.system) for e in self.examples]

    def vector(self, text: str) -> dict[str, float]:
        """A normalized TF-IDF vector of `text`."""
        counts = _words(text)
        vec = {
            w: n * self._idf.get(w, math.log(1 + len(self.examples)) + 1) for w, n in counts.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    @staticmethod
    def cosine(x: dict[str, float], y: dict[str, float]) -> float:
        """Cosine similarity of two normalized vectors."""
        if len(x) > len(y):
            x, y = y, x
        return sum(v * y.get(w, 0.0) for w, v in x.items())

    def closest(
        self, query: str, system: str, extra: Sequence[tuple[str, str]] = ()
    ) -> tuple[float, str]:
        """(score, answer) of the closest conversation; few-shot pairs in `extra` weigh more."""
        q, s = self.vector(query), self.vector(system)
        best = (0.0, "")
        for prompt, answer in extra:
            best = max(best, (1.15 * self.cosine(q, self.vector(prompt)), answer))
        for example, vec, sys_vec in zip(self.examples, self._vectors, self._systems, strict=True):
            score = self.cosine(q, vec)
            if system and example.system:
                score += 0.3 * self.cosine(s, sys_vec)
            best = max(best, (score, example.answer))
        return best
