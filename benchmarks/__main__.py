"""Run every benchmark module (or those named on the command line) once, in order."""

from __future__ import annotations

import importlib
import pkgutil
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
    for name in chosen:
        print(f"== {name}")
        importlib.import_module(f"benchmarks.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
