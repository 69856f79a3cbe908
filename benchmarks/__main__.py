"""Run every benchmark module (or those named on the command line) once, in order.

Several run one after another, each in a process of its own: what one leaves behind (the fuzz
benchmark's 1.7 GB of objects, which every garbage collection walks) must not slow or weigh on
the next one's figures.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import benchmarks


def main(names: list[str]) -> int:
    """Import and run each benchmark module's `run()`."""
    found = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name[0] != "_")
    chosen = names or found
    unknown = [n for n in chosen if n not in found]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(found)}", file=sys.stderr)
        return 2
    if len(chosen) == 1:
        print(f"== {chosen[0]}", flush=True)
        importlib.import_module(f"benchmarks.{chosen[0]}").run()
        return 0
    runs = [subprocess.run([sys.executable, "-m", "benchmarks", name]) for name in chosen]
    return 1 if any(run.returncode for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
