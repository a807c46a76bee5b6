"""The rules language: terms and inflections, regex, negative terms, conditions, weights, spam."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.triage_helpers import DEPARTMENTS, post, router_for
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.errors import ConfigError
from triagebot.routing.router import Router
from triagebot.routing.textnorm import fold, stem, tokens

BILLING = """
    department: billing
    rules:
      - name: refund
        weight: 3
        terms: [refund, "money back", "charged twice"]
        unless: ["refund policy"]
      - name: card
        terms: [card]
"""
SHIPPING = """
    department: shipping
    rules:
      - name: parcel
        weight: 2
        terms: [parcel, "=ship"]
"""


@pytest.fixture
def router(tmp_path: Path):
    return router_for(tmp_path / "rules", {"billing.yaml": BILLING, "shipping.yaml": SHIPPING})


@pytest.mark.parametrize(
    "text",
    ["refund please", "Refunds?", "REFUNDED!!", "still refunding", "I was Charged-Twice", "Réfund"],
)
def test_terms_match_inflections_case_and_accents(router, text: str) -> None:
    assert router.route(post(text)).department == "billing"


@pytest.mark.parametrize(
    "text", ["refundable", "prefund", "chargedtwice", "card-less? no: cardboard"]
)
def test_terms_match_whole_words_only(router, text: str) -> None:
    routing = router.route(post(text))
    assert "billing.refund" not in routing.rules


def test_stems_and_folding() -> None:
    assert {stem(w) for w in ("ship", "ships", "shipped", "shipping")} == {"ship"}
    assert {stem(w) for w in ("apply", "applies", "applied", "applying")} == {"apply"}
    assert {stem(w) for w in ("charge", "charged", "charges", "charging")} == {"charg"}
    assert stem("news") != stem("new")
    assert tokens(fold("Didn't ARRIVE — pleaseeee 📦 ﬁx")) == [
        "didnt",
        "arrive",
        "please",
        "📦",
        "fix",
    ]


def test_exact_terms_do_not_inflect(router) -> None:
    assert router.route(post("we ship it")).department == "shipping"
    assert router.route(post("shipping it")).department == FALLBACK_DEPARTMENT


def test_negative_terms_stop_the_rule(router) -> None:
    assert router.route(post("what is your refund policy?")).department == FALLBACK_DEPARTMENT
    explained = router.explain(post("what is your refund policy?"))
    assert explained.blocked == {"billing.refund": "unless 'refund policy'"}


def test_no_match_goes_to_the_fallback(router) -> None:
    routing = router.route(post("nice weather today"))
    assert (routing.department, routing.priority, routing.cc, routing.rules) == (
        FALLBACK_DEPARTMENT,
        Priority.P2,
        (),
        (),
    )


def test_weights_pick_the_primary_and_copy_the_others(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "billing.yaml": BILLING,
            "shipping.yaml": SHIPPING,
            "routing.yaml": "options: {cc_share: 0.5, cc_min: 2, max_cc: 1}\n",
        },
    )
    routing = router.route(post("my parcel never came and I want my money back"))
    assert (routing.department, routing.cc) == ("billing", ("shipping",))
    assert routing.rules == ("billing.refund", "shipping.parcel")
    weak = router.route(post("refund the card"))  # card (1) is billing too: no cc of itself
    assert weak.cc == ()
    scores = router.explain(post("parcel and card")).scores
    assert scores == {"shipping": 2.0, "billing": 1.0}
    assert router.route(post("parcel and card")).cc == ()  # below cc_min


def test_ties_go_to_the_bigger_rule_then_the_earlier_word(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "sales.yaml": "department: sales\nrules:\n  - {name: a, weight: 2, terms: [price]}\n",
            "product.yaml": "department: product\nrules:\n  - {name: b, weight: 2, terms: [idea]}",
        },
    )
    assert router.route(post("price idea")).department == "sales"
    assert router.route(post("idea price")).department == "product"


def test_regex_with_literal_prefilter_and_without(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "billing.yaml": r"""
                department: billing
                rules:
                  - name: order_number
                    regex: ['\border\s*#?\d{5,}\b']
                  - name: amount
                    regex: ['[$€£]\s?\d+']
            """
        },
    )
    assert router.route(post("Order #123456 is wrong")).rules == ("billing.order_number",)
    assert router.route(post("they took €40")).rules == ("billing.amount",)
    assert router.route(post("order 12")).department == FALLBACK_DEPARTMENT


def test_with_terms_are_needed_too(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "billing.yaml": """
                department: billing
                rules:
                  - {name: charge, terms: [charged], with: [card, bank]}
            """
        },
    )
    assert router.route(post("charged my card")).department == "billing"
    assert router.route(post("the phone charged fine")).department == FALLBACK_DEPARTMENT


def test_conditions_on_source_language_followers_and_other_rules(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "pr.yaml": """
                department: pr
                rules:
                  - name: store_review
                    terms: [love]
                    when: {source: [appstore], lang: [en]}
                  - name: reach
                    priority: P1
                    when: {followers: ">= 10000"}
                  - name: praise_not_refund
                    weight: 2
                    terms: [thanks]
                    when: {not_matched: [billing.refund]}
                  - name: after_refund
                    priority: P3
                    terms: [thanks]
                    when: {matched: [billing.refund]}
            """,
            "billing.yaml": BILLING,
        },
    )
    assert (
        router.route(post("love it", source="ios", kind="appstore", lang="en-GB")).department
        == "pr"
    )
    assert router.route(post("love it", source="x", lang="en")).department == FALLBACK_DEPARTMENT
    assert (
        router.route(post("love it", kind="appstore", lang="de")).department == FALLBACK_DEPARTMENT
    )
    assert router.route(post("hello", followers=25_000)).priority is Priority.P1
    assert router.route(post("hello", followers=None)).priority is Priority.P2
    assert router.route(post("thanks")).department == "pr"
    refunded = router.route(post("thanks for the refund"))
    assert refunded.department == "billing"
    assert "pr.praise_not_refund" not in refunded.rules


def test_priority_rules_apply_to_their_department_or_to_any(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "priority.yaml": """
                rules:
                  - {name: legal, priority: P1, terms: [lawyer]}
            """,
            "pr.yaml": """
                department: pr
                rules:
                  - {name: praise, priority: P3, terms: [love]}
            """,
            "billing.yaml": BILLING,
        },
    )
    assert router.route(post("love you")).priority is Priority.P3
    assert router.route(post("love you, my lawyer says hi")).priority is Priority.P1
    mixed = router.route(post("I love that I still have no refund"))
    assert (mixed.department, mixed.priority) == ("billing", Priority.P2)


def test_spam_beats_weaker_departments_only(tmp_path: Path) -> None:
    router = router_for(
        tmp_path,
        {
            "spam.yaml": """
                rules:
                  - {name: promo, spam: true, weight: 4, terms: ["promo code", "link in bio"]}
            """,
            "billing.yaml": BILLING,
            "options.yaml": "options: {spam_threshold: 3}\n",
        },
    )
    spam = router.route(post("90% off with promo code FREE90, link in bio"))
    assert spam.spam and spam.rules == ("spam.promo",) and spam.priority is Priority.P3
    customer = router.route(post("promo code failed, my card was charged twice, refund please"))
    assert not customer.spam and customer.department == "billing"


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"a.yaml": "rules: [\n"}, "a.yaml:2: invalid YAML"),
        (
            {"a.yaml": "department: nope\nrules: []\n"},
            "a.yaml:1: department: unknown department 'nope'",
        ),
        (
            {"a.yaml": "rules:\n  - {name: r, department: pr, regex: ['(']}\n"},
            "a.yaml:2: regex: invalid",
        ),
        (
            {"a.yaml": "rules:\n  - {name: r, department: pr, term: [x]}\n"},
            "a.yaml:2: term: unknown rule field",
        ),
        ({"a.yaml": "rules:\n  - name: r\n    department: pr\n"}, "a.yaml:2: a.r: needs terms"),
        ({"a.yaml": "rules:\n  - name: r\n    terms: [x]\n"}, "a.yaml:2: a.r: needs a department"),
        (
            {"a.yaml": "rules:\n  - {name: r, department: pr, terms: [x], when: {matched: [b]}}\n"},
            "no rule named 'a.b'",
        ),
        (
            {"a.yaml": "rules:\n  - {name: r, department: pr, terms: [x], weight: 0}\n"},
            "a.yaml:2: weight",
        ),
        (
            {"a.yaml": "rules:\n  - {name: r, priority: P9, terms: [x]}\n"},
            "priority: 'P9' must be P1",
        ),
        (
            {"a.yaml": "options: {fallback: nowhere}\n"},
            "a.yaml:1: options.fallback: unknown department",
        ),
        ({"a.yaml": "rules:\n  - {name: r, department: pr, terms: ['!!!']}\n"}, "has no letters"),
        (
            {"a.yaml": "rules:\n  - {name: r, department: pr, terms: [x], when: {followers: x}}"},
            "when.followers",
        ),
        ({"a.yaml": "a: 1\na: 2\n"}, "a.yaml:2: a: listed twice"),
    ],
)
def test_bad_rules_are_refused_with_file_and_line(
    tmp_path: Path, files: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        router_for(tmp_path, files)
    assert any(fragment in line for line in caught.value.problems), caught.value.problems


def test_circular_conditions_are_refused(tmp_path: Path) -> None:
    rules = """
        department: pr
        rules:
          - {name: a, terms: [x], when: {matched: [b]}}
          - {name: b, terms: [y], when: {not_matched: [a]}}
    """
    with pytest.raises(ConfigError, match="in a circle"):
        router_for(tmp_path, {"pr.yaml": rules})


def test_a_missing_rules_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rules folder not found"):
        Router.load(tmp_path / "missing", DEPARTMENTS)
