"""tiktoken works air-gapped (its cache is seeded from bpe-openai, checked by tiktoken's hash), and
bpe-openai's counts equal tiktoken's."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.tokens import encoding_name_for, get_encoding, token_counter

LOAD = "from infra.tokens import get_encoding"


@pytest.mark.parametrize(
    ("name", "expected"), [("o200k_base", [24912, 2375]), ("cl100k_base", [15339, 1917])]
)
def test_encodings_load_from_an_empty_cache_without_network(
    tmp_path: Path, name: str, expected: list[int]
) -> None:
    code = f"{LOAD}; print(get_encoding({name!r}).encode('hello world'))"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)
    (cached,) = tmp_path.iterdir()
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    assert cached.name == hashlib.sha1(url.encode()).hexdigest()


def test_a_corrupt_cache_file_is_replaced(tmp_path: Path) -> None:
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"garbage")
    code = f"{LOAD}; print(len(get_encoding('o200k_base').encode('a b')))"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_encoding_by_model() -> None:
    assert encoding_name_for("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert encoding_name_for("gpt-4.1-nano-2025-04-14") == "o200k_base"
    assert encoding_name_for("gpt-35-turbo-0125") == "cl100k_base"


def test_threads_seeding_the_empty_cache_at_once_all_succeed(tmp_path: Path) -> None:
    # The sandbox imports two uploaded files at once, each in a thread, on a fresh cache.
    code = (
        "import sys, threading\n"
        "from infra.tokens import seed_cache\n"
        "errors = []\n"
        "def seed():\n"
        "    try:\n"
        "        seed_cache('o200k_base')\n"
        "    except Exception as error:\n"
        "        errors.append(error)\n"
        "threads = [threading.Thread(target=seed) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "sys.exit(repr(errors) if errors else 0)\n"
    )
    for attempt in range(3):
        cache = tmp_path / str(attempt)
        env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache)}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_token_counts_equal_tiktokens_on_every_code_point(name: str) -> None:
    """Every code point, in runs of 256 alone, between spaces and between letters."""
    encoding, count = get_encoding(name), token_counter(name)
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(points), 256):
        run = points[start : start + 256]
        for text in ("".join(run), " ".join(run), "a".join(run) + "'s"):
            assert count(text) == len(encoding.encode_ordinary(text)), text


PIECES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2003", "\x0b", "\x85", "a",
          "Z", "é", "É", "ǅ", "ʰ", "한", "글", "漢", "ا", "\u0301", "1", "٣", "²", "'", "’", "'s",
          "'S", "'ll", "'LL", "'re", "'ve", "'m", "'d", "'t", "!", "?", ".", "/", "\\", "<|", "😀",
          "👍🏽", "\u200d", "0", "123", "1234", "hello", "World", "HELLO", "camelCase", "ß",
          "\ud800", "\udc00"]  # fmt: skip


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=60))
def test_token_counts_equal_tiktokens_on_generated_text(text: str) -> None:
    """Whitespace runs, contractions, digits, scripts and lone surrogates (replaced, as tiktoken
    does) in any order."""
    for name in ("o200k_base", "cl100k_base"):
        assert token_counter(name)(text) == len(get_encoding(name).encode_ordinary(text))
