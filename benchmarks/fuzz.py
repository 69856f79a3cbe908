"""100,000 generated inputs (Hypothesis) to the validator, the command parser and the activity
edge: the properties of tests/fuzzing.py, which `make test` runs on a few thousand. Goal: zero
unexpected exceptions, every rejection a user-facing error.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings

from tests.fuzzing import PROPERTIES

INPUTS = 100_000


def run() -> None:
    """Run each property on its share of the inputs; print inputs, time and the verdict."""
    total = 0
    for name, check, strategies, share in PROPERTIES:
        count = int(INPUTS * share)
        began = time.monotonic()
        failure = ""
        try:
            settings(
                max_examples=count,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )(given(*strategies)(check))()
        except Exception as error:  # the property's counterexample: printed, not raised
            failure = f"FAILED: {type(error).__name__}: {str(error)[:300]}"
        seconds = time.monotonic() - began
        total += count
        verdict = failure or "0 unexpected exceptions"
        print(f"  {name}: {count:,} inputs in {seconds:.0f} s, {verdict}", flush=True)
    print(f"  {total:,} generated inputs in all (goal: 0 unexpected exceptions)")
