"""The sandbox's trainable model: an interpolated token n-gram LM plus a memory of conversations.

Training text is the assistant turns of a chat JSONL file, tokenized with o200k. Each assistant
turn is predicted from its own previous tokens (trigram, bigram, unigram, smoothed Witten-Bell
style) and from the preceding turn (the n-gram history starts in it, and a copy component draws
tokens from it), over a Zipf prior on token ranks standing in for pre-training. Counts grow by
the learning-rate multiplier each time an example is seen, so loss and accuracy are measured,
not invented. Chat answers come from the closest remembered conversation, or are sampled from
the n-gram model when nothing is close.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tiktoken

BOS = -2
COPY_WEIGHT = 0.1
EOS_PRIOR = 0.01
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Turn:
    """One assistant turn to learn: the preceding turn's tokens and the turn's own tokens."""

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
        system, prompt, answer = "", "", ""
        turns: list[Turn] = []
        previous: tuple[int, ...] = ()
        for message in messages:
            role, content = message.get("role"), text_of(message.get("content"))
            tokens = tuple(enc.encode(content, disallowed_special=()))
            if role == "system":
                system = content
            elif role == "user":
                prompt = content
            elif role == "assistant":
                if message.get("weight", 1) != 0:
                    turns.append(Turn(previous, tokens))
                answer = content
            previous = tokens
        if turns:
            examples.append(
                Example(system, prompt, answer, tuple(turns), chat_tokens(messages, enc))
            )
    return examples


class NGramModel:
    """Interpolated trigram model over token ids with a copy component and a Zipf prior."""

    def __init__(self, vocab: int) -> None:
        self.vocab = vocab
        self.eos = vocab
        self._norm = (1 - EOS_PRIOR) / (math.log((vocab + 10) / 10) + 1 / 20)
        self.uni: dict[int, float] = {}
        self.uni_total = 0.0
        self.uni_top = 0
        self.bi: dict[int, dict[int, float]] = {}
        self.bi_total: dict[int, float] = {}
        self.tri: dict[tuple[int, int], dict[int, float]] = {}
        self.tri_total: dict[tuple[int, int], float] = {}

    def _prior(self, token: int) -> float:
        return EOS_PRIOR if token == self.eos else self._norm / (token + 10)

    @staticmethod
    def _histories(turn: Turn) -> Iterable[tuple[int, int]]:
        a, b = (BOS, BOS, *turn.context)[-2:]
        for token in turn.target:
            yield a, b
            a, b = b, token
        yield a, b

    def add(self, turn: Turn, weight: float) -> None:
        """Learn one turn with the given weight (the learning-rate multiplier)."""
        for (a, b), token in zip(self._histories(turn), (*turn.target, self.eos), strict=True):
            self.uni[token] = count = self.uni.get(token, 0.0) + weight
            self.uni_total += weight
            if count > self.uni.get(self.uni_top, 0.0):
                self.uni_top = token
            row = self.bi.setdefault(b, {})
            row[token] = row.get(token, 0.0) + weight
            self.bi_total[b] = self.bi_total.get(b, 0.0) + weight
            key = (a, b)
            row = self.tri.setdefault(key, {})
            row[token] = row.get(token, 0.0) + weight
            self.tri_total[key] = self.tri_total.get(key, 0.0) + weight

    def prob(self, token: int, a: int, b: int, copy: Counter[int], copied: int) -> float:
        """P(token | a b, preceding turn)."""
        p = self._prior(token)
        if self.uni_total:
            types = len(self.uni)
            p = (self.uni.get(token, 0.0) + types * p) / (self.uni_total + types)
        row = self.bi.get(b)
        if row:
            types = len(row)
            p = (row.get(token, 0.0) + types * p) / (self.bi_total[b] + types)
        row = self.tri.get((a, b))
        if row:
            types = len(row)
            p = (row.get(token, 0.0) + types * p) / (self.tri_total[(a, b)] + types)
        if copied:
            p = (1 - COPY_WEIGHT) * p + COPY_WEIGHT * copy.get(token, 0) / copied
        return p

    def _candidates(self, a: int, b: int, copy: Counter[int]) -> set[int]:
        found = {self.uni_top, 0, self.eos}
        found.update(self.tri.get((a, b), ()))
        found.update(self.bi.get(b, ()))
        found.update(copy)
        return found

    def score(self, turn: Turn) -> tuple[float, int, int]:
        """(summed negative log-likelihood, tokens predicted right, tokens) of one turn."""
        copy = Counter(turn.context)
        copied = len(turn.context)
        nll, right, count = 0.0, 0, 0
        for (a, b), token in zip(self._histories(turn), (*turn.target, self.eos), strict=True):
            nll -= math.log(self.prob(token, a, b, copy, copied))
            best = max(self._candidates(a, b, copy), key=lambda t: self.prob(t, a, b, copy, copied))
            right += best == token
            count += 1
        return nll, right, count

    def generate(
        self, context: Sequence[int], rng: random.Random, max_tokens: int, temperature: float
    ) -> list[int]:
        """Sample a turn after `context`, from the tokens the model has seen follow it."""
        copy = Counter(context)
        a, b = (BOS, BOS, *context)[-2:]
        out: list[int] = []
        while len(out) < max_tokens:
            pool = set(self.tri.get((a, b), ())) | set(self.bi.get(b, ()))
            if not pool:
                pool = set(self.uni)
            if not pool:
                break
            choices = sorted(pool)
            weights = [self.prob(t, a, b, copy, len(context)) for t in choices]
            if temperature > 0:
                scaled = [w ** (1 / max(temperature, 0.05)) for w in weights]
                token = rng.choices(choices, weights=scaled)[0]
            else:
                token = choices[max(range(len(choices)), key=weights.__getitem__)]
            if token == self.eos:
                break
            out.append(token)
            a, b = b, token
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
