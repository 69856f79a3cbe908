"""Korean particles follow the word before them, as a Korean reader says it aloud."""

from __future__ import annotations

import pytest

from infra import i18n
from infra.particles import Ending, attach, ending, particle

C, R, V = Ending.CONSONANT, Ending.RIEUL, Ending.VOWEL

READ_ALOUD = [
    # Hangul: the last syllable's final consonant
    ("학습", C),
    ("배포", V),
    ("파일", R),
    ("한국어", V),
    ("모델", R),
    ("`작업`", C),
    ("**리소스**", V),
    ("ㄱ", C),
    # numbers, in Sino-Korean as numbers
    ("1", R),  # 일
    ("2", V),  # 이
    ("3", C),  # 삼
    ("7", R),  # 칠
    ("10", C),  # 십
    ("12", V),  # 십이
    ("18", R),  # 십팔
    ("20", C),  # 이십
    ("100", C),  # 백
    ("1,200", C),  # 천이백
    ("10,000", C),  # 만
    ("1,000,000,000,000", V),  # 조
    ("0", C),  # 영
    ("1.5", V),  # 일 점 오
    ("0.25", V),  # 영 점 이오
    ("42.3%", V),  # 퍼센트
    ("$1,234.50", V),  # 달러
    ("US$0.50", V),
    ("2024-07-18", R),  # a date: 십팔
    # digits that end a code, in English one by one
    ("KEY1", C),  # 키 원
    ("KEY2", V),  # 키 투
    ("aoai-lab2", V),
    ("gpt-35", V),  # 파이브
    ("ft-teacher-01", C),  # 원
    ("ftjob-abc7", C),  # 세븐
    ("S0", V),  # 제로
    # Latin words as English words
    ("name", C),  # 네임
    ("time", C),
    ("me", V),  # 미
    ("the", V),  # 더
    ("file", R),  # 파일
    ("model", R),
    ("teacher", V),  # 티처
    ("ft-teacher", V),
    ("gpt-4o-mini", V),  # 미니
    ("gpt-4o", V),  # 포오
    ("chat", C),  # 챗
    ("bot", C),  # 봇
    ("training_set", C),  # 셋
    ("seat", V),  # 시트
    ("about", C),  # 어바웃
    ("test", V),  # 테스트
    ("job", C),  # 잡
    ("lab", C),  # 랩
    ("app", C),  # 앱
    ("help", V),  # 헬프
    ("training", C),  # 트레이닝
    ("state", V),  # 스테이트
    ("data", V),
    ("Azure", V),  # 애저
    ("training_set.jsonl", R),  # 제이슨엘
    ("cloud", V),  # 클라우드
    ("keys", V),
    # acronyms and vowel-less words, letter by letter
    ("SKU", V),
    ("URL", R),  # 유알엘
    ("JSON", C),  # 제이슨 (엔)
    ("API", V),
    ("png", V),  # 피엔지
    ("DPO", V),
    # markup, punctuation and parentheses are not read
    ("`aoai-lab`", C),  # 랩
    ("`name`…", C),
    ("커피(coffee)", V),
    ("`deploy` (cut at 60 of 100 characters)", V),  # 디플로이
    # a usage line is read without its brackets
    ("`채팅 <배포>`", V),
    ("`배포 <작업 또는 모델>`", R),
    ("`/비교 <배포> <프롬프트>`", V),
    ("`감사 [N]`", C),  # 엔
    ("", C),
    ("—", C),
]


@pytest.mark.parametrize(("word", "expected"), READ_ALOUD)
def test_a_word_ends_as_it_is_read_aloud(word: str, expected: Ending) -> None:
    assert ending(word) is expected


FORMS = [
    ("학습", "을(를)", "을"),
    ("배포", "을(를)", "를"),
    ("배포", "를(을)", "를"),
    ("KEY1", "이(가)", "이"),
    ("KEY2", "가(이)", "가"),
    ("모델", "은(는)", "은"),
    ("teacher", "와(과)", "와"),
    ("chat", "과(와)", "과"),
    ("파일", "(으)로", "로"),  # ㄹ takes 로
    ("작업", "(으)로", "으로"),
    ("teacher", "(으)로", "로"),
    ("KEY1", "(으)로", "으로"),
    ("한국어", "(으)로", "로"),
    ("gpt-4o-mini", "(이)", ""),  # ...라고
    ("ftjob-abc123", "(이)", ""),
    ("model", "(이)", "이"),
]


@pytest.mark.parametrize(("word", "marker", "form"), FORMS)
def test_a_marker_takes_the_form_its_word_needs(word: str, marker: str, form: str) -> None:
    assert particle(word, marker) == form


def test_markers_after_a_placeholder_are_resolved_when_it_is_filled() -> None:
    template = "`{name}`을(를) 배포할까요? {key}(으)로 전환하고 `validate model={model}`(이)라고"
    filled = attach(template, {"name": "ft-teacher", "key": "KEY1", "model": "gpt-4o-mini"})
    assert filled == "`{name}`를 배포할까요? {key}으로 전환하고 `validate model={model}`라고"
    # a marker not after a placeholder, or after one without a value, stays as written
    assert attach("작업을(를) {x}", {}) == "작업을(를) {x}"
    assert attach("{{x}}을(를)", {"x": "a"}) == "{{x}}을(를)"


def test_the_korean_catalog_says_particles_that_fit() -> None:
    with i18n.use("ko"):
        assert i18n._("Deploy {name}?", name="ft-teacher") == "ft-teacher를 배포할까요?"
        assert i18n._("Deploy {name}?", name="aoai-lab") == "aoai-lab을 배포할까요?"
