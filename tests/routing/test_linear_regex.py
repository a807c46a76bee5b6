"""Rule expressions run on RE2: a hostile post cannot make a rule backtrack.

The ``sales.question_fit`` expression once shipped (``^\\W*…[\\s,!]*…``, kept in
``tests/hostile_rules.py``) took 15-19 s on Python's ``re`` for 20,000 exclamation marks
before a sales question; an operator's ``(a+)+$`` took ~10 s on 28 characters. Both now take
time linear in the post's length, with the real router, among the shipped rules.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hostile_rules import QUESTION_FIT_ID, rules_with_question_fit
from tests.triage_helpers import DEPARTMENTS, post, router_for
from triagebot.cases.records import Priority
from triagebot.errors import ConfigError
from triagebot.routing.linear_regex import RegexRefused, compile_rule_regex, to_re2
from triagebot.routing.router import Router
from triagebot.routing.rules.check import check_rules

ROOT = Path(__file__).resolve().parents[2]
QUESTION = " does the northwind trail kettle work with a 12v camper socket?"
#: Fails the anchored expression after the run of "!": what made Python's ``re`` backtrack.
PRICE_QUESTION = " how much is the northwind trail kettle, and is it available in canada?"
#: Generous: each of these routes in about a millisecond; Python's ``re`` took seconds.
LIMIT_S = 0.05
HOSTILE = [
    "!" * 20_000 + QUESTION,
    "!" * 20_000 + PRICE_QUESTION,
    "!" * 40_000 + PRICE_QUESTION,
    "!" * (40_000 - len(QUESTION)) + QUESTION,
    ", " * 20_000 + "hi" + PRICE_QUESTION,
    "@northwind " * 3_000 + PRICE_QUESTION,
    "is " + "a" * 40_000,
]
HOSTILE_IDS = ["20k-fits", "20k-price", "40k-price", "40k-fits", "commas", "handles", "long-word"]


@pytest.fixture(scope="module")
def shipped_and_question_fit(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """The shipped rules with the backtracking expression added as ``hostile.question_fit``."""
    folder = rules_with_question_fit(tmp_path_factory.mktemp("rules"))
    return Router.load(folder, DEPARTMENTS, Priority.P2)


def timed_route(router: Router, text: str) -> tuple[float, list[str]]:
    router.route(post("warm up"))
    start = time.perf_counter()
    routing = router.route(post(text))
    return time.perf_counter() - start, list(routing.rules)


@pytest.mark.parametrize("text", HOSTILE, ids=HOSTILE_IDS)
def test_hostile_posts_route_in_under_50_ms(shipped_and_question_fit: Router, text: str) -> None:
    elapsed, rules = timed_route(shipped_and_question_fit, text)
    assert elapsed < LIMIT_S, f"{elapsed * 1000:.0f} ms"
    if text.endswith(QUESTION) and len(text) <= 40_000:
        assert QUESTION_FIT_ID in rules  # still recognised as the sales question it is


def test_the_question_rule_still_fires_on_ordinary_posts(shipped_and_question_fit: Router) -> None:
    routing = shipped_and_question_fit.route(
        post("Hi! Does the Northwind kettle work with 12v sockets?")
    )
    assert QUESTION_FIT_ID in routing.rules
    assert routing.department == "sales"


def test_nested_quantifier_of_an_operator_runs_linearly(tmp_path: Path) -> None:
    rules = {"pr.yaml": "department: pr\nrules:\n  - {name: evil, regex: ['(a+)+$']}\n"}
    router = router_for(tmp_path / "rules", rules)
    assert check_rules(tmp_path / "rules", DEPARTMENTS) == []
    elapsed, fired = timed_route(router, "a" * 28 + "!")
    assert elapsed < LIMIT_S and fired == []
    elapsed, fired = timed_route(router, "a" * 39_000 + "!")
    assert elapsed < LIMIT_S and fired == []
    assert timed_route(router, "aaaa")[1] == ["pr.evil"]


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("refund(?=ed)", "look-ahead"),
        ("(?<!no )refund", "negative look-behind"),
        ("(a)\\1", "back-references"),
        ("(?P<x>a)(?P=x)", "back-references"),
        ("a++", "possessive"),
        ("(?>a+)b", "atomic groups"),
        ("a{2000}", "above 1000"),
        ("\\b東京\\b", "A-Z letters only"),
    ],
)
def test_rules_check_names_what_the_engine_refuses(
    tmp_path: Path, expression: str, says: str
) -> None:
    text = f"department: pr\nrules:\n  - name: r\n    regex:\n      - '{expression}'\n"
    (tmp_path / "pr.yaml").write_text(text, encoding="utf-8")
    found = check_rules(tmp_path, DEPARTMENTS)
    assert len(found) == 1
    assert f"{found[0].path.name}:{found[0].line}" == "pr.yaml:5"
    assert "invalid regular expression" in found[0].message and says in found[0].message
    with pytest.raises(ConfigError):
        Router.load(tmp_path, DEPARTMENTS, Priority.P2)


def test_python_meaning_is_kept_where_re2_differs() -> None:
    assert compile_rule_regex(r"^\w+$").search("привет") is not None  # Unicode \w
    assert compile_rule_regex(r"^\W+$").search("привет") is None
    assert compile_rule_regex(r"[\w]+").search("日本語") is not None
    assert compile_rule_regex(r"^\d+$").search("١٢٣") is not None  # Arabic-Indic digits
    assert compile_rule_regex(r"a\s+b").search("a\u00a0b") is not None
    assert compile_rule_regex(r"end\Z").search("the end") is not None
    assert compile_rule_regex(r"^x{,3}$").search("xx") is not None
    assert compile_rule_regex(r"REFUND").search("refund please") is not None  # case-blind
    assert compile_rule_regex(r"[$€£]\s?\d").search("took £5") is not None
    assert to_re2(r"[\]\w]\\w") == r"[\]\p{L}\p{N}_]\\w"
    assert to_re2(r"[[:alpha:]\d]") == r"[[:alpha:]\p{Nd}]"
    assert compile_rule_regex(r"^[^\W\d_]+$").search("привет") is not None  # letters
    assert compile_rule_regex(r"^[^\W\d_]+$").search("abc1") is None
    assert compile_rule_regex(r"^[^\W_]+$").search("日本2") is not None


def test_a_plain_syntax_error_is_reported_as_it_is() -> None:
    with pytest.raises(RegexRefused, match="missing \\)"):
        compile_rule_regex("(refund")
