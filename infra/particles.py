"""Korean particles chosen by the word before them.

A Korean particle has two forms, chosen by how the word before it ends when read aloud: after a
final consonant (받침) 을, 이, 은, 과, 으로, 이라고; after a vowel 를, 가, 는, 와, 로, 라고; and
(으)로 takes 로 after ㄹ too. A translation writes the pair as Korean software does when it cannot
know the word, right after the placeholder (`{name}`을(를), `{key}`(으)로, `{name}`(이)라고), and
`attach` picks the form once the placeholder has its value: no reader sees "을(를)".

How a value is read aloud (the rule is ours; docs/glossary.md "Particles"):
- Hangul by its last syllable (`학습` 받침 ㅂ; `배포` none; `파일` ㄹ).
- A number in Sino-Korean, as a number: `12` 십이, `20` 이십, `1,200` 천이백, `10,000` 만;
  after a decimal point digit by digit (`0.25` 영 점 이오). A price (`$`) is said "... 달러",
  a percentage "... 퍼센트".
- Digits that end a code (letters before them in the same word) in English, one by one: `KEY1`
  "키 원", `aoai-lab2` "... 투", `gpt-35` "... 파이브".
- Latin letters as an English word (`name` 네임, `chat` 챗, `model` 모델, `teacher` 티처); an
  acronym (four capitals or fewer) or a word with no vowel letter by its letters (`SKU` ...유,
  `URL` ...엘, `png` ...지).
- What ends in a parenthesis takes the particle of the word before it (Korean's rule for
  "커피(coffee)를"); markup (backticks, asterisks, quotes), closing punctuation and the brackets
  of a usage line (`채팅 <배포>` is read "채팅 배포") are not read.
A value with nothing readable takes the form after a consonant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum


class Ending(Enum):
    """How a word ends when read aloud."""

    VOWEL = "vowel"
    CONSONANT = "consonant"
    RIEUL = "rieul"  # the final consonant ㄹ: a consonant, but (으)로 takes 로 after it


PAIRS: dict[str, tuple[str, str]] = {
    "을(를)": ("을", "를"),
    "를(을)": ("을", "를"),
    "이(가)": ("이", "가"),
    "가(이)": ("이", "가"),
    "은(는)": ("은", "는"),
    "는(은)": ("은", "는"),
    "과(와)": ("과", "와"),
    "와(과)": ("과", "와"),
    "으로(로)": ("으로", "로"),
    "로(으로)": ("으로", "로"),
    "(으)로": ("으로", "로"),
    "(이)": ("이", ""),
}
"""Each marker a translation may write after a placeholder: (after a consonant, after a vowel).
`(이)` stands before 라고, 나, 며, 고, 다, 라는, 란 ...; (으)로 also takes 로 after ㄹ."""

MARKERS = re.compile("|".join(re.escape(m) for m in sorted(PAIRS, key=len, reverse=True)))
"""Any marker, the longest first."""

_NOT_READ = "`*_\"'”’“‘.,!?…:;·~<>[] \u00a0"
"""Markup, closing punctuation and a usage line's brackets, which nobody reads aloud."""
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL_FINAL = 8  # ㄹ's index among the 27 final consonants
_CONSONANT_JAMO = "ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = set("aeiou")

_SINO_DIGITS = "CRVCVVCRRV"
"""How 0-9 end in Sino-Korean (영 일 이 삼 사 오 육 칠 팔 구): C consonant, R ㄹ, V vowel."""
_ENGLISH_DIGITS = "VCVVVVVCVC"
"""How 0-9 end said in English (제로 원 투 쓰리 포 파이브 식스 세븐 에이트 나인)."""
_LETTERS = {"l": "R", "r": "R", "m": "C", "n": "C"}
"""Latin letter names with a final consonant (엘 알 엠 엔); every other letter's name ends in a
vowel (에이, 비, 씨, ... 에스, 엑스, 제트)."""
_ENDINGS = {"V": Ending.VOWEL, "C": Ending.CONSONANT, "R": Ending.RIEUL}

_NUMBER = re.compile(r"[0-9][0-9,.]*$")
_LATIN = re.compile(r"[A-Za-z]+$")


def ending(word: str) -> Ending:
    """How `word` (a name, a number, a code, a Korean word, with or without markup) ends read
    aloud."""
    word = _unwrapped(word)
    if not word:
        return Ending.CONSONANT
    last = word[-1]
    if _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        final = (ord(last) - _HANGUL_FIRST) % 28
        if final == 0:
            return Ending.VOWEL
        return Ending.RIEUL if final == _RIEUL_FINAL else Ending.CONSONANT
    if last in _CONSONANT_JAMO:
        return Ending.RIEUL if last == "ㄹ" else Ending.CONSONANT
    if "ㅏ" <= last <= "ㅣ":
        return Ending.VOWEL
    if last == "%" or (last.isdigit() and "$" in word):
        return Ending.VOWEL  # 퍼센트, 달러
    if last.isdigit():
        return _number(word)
    if last.isascii() and last.isalpha():
        match = _LATIN.search(word)
        return _latin(match.group(0) if match else last)
    return Ending.CONSONANT


def particle(word: str, marker: str) -> str:
    """The form of `marker` (a key of PAIRS: `을(를)`, `(으)로`, ...) that follows `word`."""
    after_consonant, after_vowel = PAIRS[marker]
    found = ending(word)
    if found is Ending.VOWEL or (found is Ending.RIEUL and after_consonant == "으로"):
        return after_vowel
    return after_consonant


_PLACED = re.compile(r"(?<!\{)\{(\w+)\}([`*_\"'”’]*)(" + MARKERS.pattern + ")")


def attach(template: str, params: Mapping[str, object]) -> str:
    """`template` with each marker right after a placeholder (markup between them allowed)
    replaced by the form its value takes; markers elsewhere are left as written."""
    if "(" not in template:
        return template

    def chosen(match: re.Match[str]) -> str:
        name, markup, marker = match.groups()
        if name not in params:
            return match.group(0)
        return "{" + name + "}" + markup + particle(str(params[name]), marker)

    return _PLACED.sub(chosen, template)


def _unwrapped(word: str) -> str:
    """`word` without what is not read aloud at its end: markup, closing punctuation, and a
    parenthesis (the particle follows the word before it)."""
    word = word.rstrip(_NOT_READ)
    while word.endswith(")") and "(" in word:
        word = word[: word.rfind("(")].rstrip(_NOT_READ)
    return word


def _number(word: str) -> Ending:
    digits = _NUMBER.search(word)
    run = digits.group(0) if digits else word[-1]
    before = word[: len(word) - len(run)]
    if re.search(r"[A-Za-z][A-Za-z0-9]*[-_]?$", before):  # a code: `KEY1`, `gpt-35`
        return _ENDINGS[_ENGLISH_DIGITS[int(run[-1])]]
    if "." in run:
        return _ENDINGS[_SINO_DIGITS[int(run[-1])]]
    whole = run.replace(",", "")
    zeros = len(whole) - len(whole.rstrip("0"))
    if zeros == 0 or zeros == len(whole):
        return _ENDINGS[_SINO_DIGITS[int(whole[-1])]]
    # a round number ends in 십, 백, 천, 만 (to 10^7), 억 (to 10^11) or, from 10^12, 조
    return Ending.VOWEL if zeros >= 12 else Ending.CONSONANT


def _latin(word: str) -> Ending:
    low = word.lower()
    if (word.isupper() and len(word) <= 4) or not (_VOWELS | {"y"}) & set(low):
        return _ENDINGS[_LETTERS.get(low[-1], "V")]
    return _word(low)


def _word(low: str) -> Ending:
    """An English word's last sound as Korean writes it (네임, 챗, 잡, 모델, 티처, 데이터)."""
    last, before = low[-1], low[-2] if len(low) > 1 else ""
    if low.endswith("ng") or last in "mn":
        return Ending.CONSONANT
    if last == "l":
        return Ending.RIEUL
    if last == "e" and not _VOWELS & set(low[:-1]):
        return Ending.VOWEL  # the e is the word's vowel: 미 (me), 더 (the)
    if last == "e":
        return {"m": Ending.CONSONANT, "n": Ending.CONSONANT, "l": Ending.RIEUL}.get(
            before, Ending.VOWEL
        )
    if low.endswith("ck") or (last in "kcpb" and (before in _VOWELS or before == last)):
        return Ending.CONSONANT  # 클릭, 베이식, 앱, 잡
    if last == "t" and before in _VOWELS:
        third = low[-3] if len(low) > 2 else ""
        if third not in _VOWELS or low.endswith("out"):
            return Ending.CONSONANT  # 챗, 봇, 셋, 인풋, 아웃
    return Ending.VOWEL
