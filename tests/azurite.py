"""Azurite, the Azure Storage emulator, as a test (and benchmark) service.

`running_azurite()` starts the pinned Blob service (npm `azurite`, installed under `.azurite/` by
`make test`) on a free loopback port, in memory, and yields its connection string. Like the
Playground it runs inside the loopback-only namespace of `make test` (`tools/in-netns`).
`--skipApiVersionCheck`: the Python SDK may speak a newer API version than this Azurite knows.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key (public, documented by Azurite)."""
READY = "successfully listens on"
START_SECONDS = 30.0


def connection_string(port: int) -> str:
    """The connection string of the Azurite Blob service on `port`."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_azurite() -> Iterator[str]:
    """Serve Azurite's Blob service until the block ends; yields its connection string."""
    if not CLI.exists():
        raise RuntimeError(
            f"Azurite is not installed ({CLI.relative_to(ROOT)} is missing): run `make test` "
            "(it installs it), or `npm install --prefix .azurite`."
        )
    port = _free_port()
    process = subprocess.Popen(
        [
            str(CLI),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: deque[str] = deque(maxlen=50)
    ready = threading.Event()

    def read() -> None:  # drain the output for good, so Azurite never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            if READY in line:
                ready.set()

    reader = threading.Thread(target=read, name="azurite output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not ready.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Azurite did not start:\n" + "\n".join(output))
        yield connection_string(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        process.stdout.close()
