"""User text said back (infra/text.py): a name from an activity as the bot keeps it."""

from __future__ import annotations

from infra.text import NAME_CHARS, person


def test_a_name_keeps_what_people_read_and_no_more() -> None:
    assert person("Ada  Lovelace\n") == "Ada Lovelace"
    assert person("김민지") == "김민지"
    # a right-to-left override, zero-width space, joiner and non-joiner, a BOM, an isolate and
    # a control character reorder or hide text: none is kept
    assert person("Bo\u202ess\u200b\u200c\u200d\ufeff\u2066\x07") == "Boss"
    assert person("a\u2028b\u2029c") == "a b c"  # line and paragraph separators: spaces
    long = person("x" * 200_000)
    assert len(long) == NAME_CHARS and long.endswith("…")
    assert person("**Boss** [click](https://evil.example/x)") == (
        "**Boss** [click](https://evil.example/x)"  # kept as written: shown as others' words
    )
