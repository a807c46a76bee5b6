"""A shipped rule that overrides the model must earn it on posts it was not written on.

The evaluation set (``tests/data/routing_eval``) and the learning streams
(``tests/data/routing_stream``) were written apart from the rules (``test_contamination.py``):
about 4,800 posts from eleven industries. A shipped department rule wins over the model, and a
shipped spam rule hides a customer's post from every channel, so on the posts a rule decides it
must be right at least as often as the model alone would have been there, and a spam rule must
be right on at least 95% of them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.routing_eval import NONE, load_eval, mention_of, shipped_router
from triagebot.routing.router import Router

STREAMS = Path(__file__).resolve().parents[1] / "data" / "routing_stream"


@pytest.fixture(scope="module")
def decided() -> dict[str, list[tuple[str, str, str]]]:
    """Per shipped rule that decided posts: (label, the router's answer, the model's alone)."""
    router = shipped_router()
    posts = load_eval() + load_eval(STREAMS)
    mentions = [mention_of(p["text"], n) for n, p in enumerate(posts)]
    voting = {r.id for r in router.ruleset.rules if r.spam or r.department is not None}
    chosen = [
        (post, mention)
        for post, mention in zip(posts, mentions, strict=True)
        if any(r.id in voting for r in router.compiled.match(mention).fired)
    ]
    assert len(posts) >= 4000 and chosen
    router.prepare([m for _, m in chosen])
    found: dict[str, list[tuple[str, str, str]]] = {}
    for post, mention in chosen:
        decision = router.decide(mention)
        routing = decision.routing
        answer = NONE if routing.spam else routing.department
        alone = _model_alone(router, mention.text)
        for rule_id in routing.rules:
            if rule_id in voting:
                found.setdefault(rule_id, []).append((post["label"], answer, alone))
    return found


def _model_alone(router: Router, text: str) -> str:
    assert router.model is not None
    return router.model.predict([text])[0].top.department


def test_where_a_shipped_rule_decides_it_beats_the_model_alone(
    decided: dict[str, list[tuple[str, str, str]]],
) -> None:
    worse = {}
    for rule_id, rows in decided.items():
        right = sum(label == answer for label, answer, _ in rows)
        model = sum(label == alone for label, _, alone in rows)
        if right < model:
            worse[rule_id] = f"rule right on {right} of {len(rows)}, the model alone on {model}"
    assert worse == {}


def test_a_shipped_spam_rule_is_right_on_95_percent_of_what_it_hides(
    decided: dict[str, list[tuple[str, str, str]]],
) -> None:
    spam = {r: rows for r, rows in decided.items() if r.startswith("spam.")}
    assert sum(len(rows) for rows in spam.values()) >= 30
    imprecise = {}
    for rule_id, rows in spam.items():
        wrong = Counter(label for label, answer, _ in rows if answer == NONE and label != NONE)
        hidden = sum(answer == NONE for _, answer, _ in rows)
        if hidden and 1 - wrong.total() / hidden < 0.95:
            imprecise[rule_id] = dict(wrong)
    assert imprecise == {}


@pytest.mark.parametrize(
    "text",
    [
        "three days without internet and I work from home, when is it fixed?",
        "Influencer here (85k): I'd love to cover your VIP experience, DM for my media kit",
        "no puedo iniciar sesión, dice que mi correo no existe",
    ],
)
def test_a_customer_post_with_a_promo_phrase_is_routed_not_hidden(text: str) -> None:
    routing = shipped_router().route(mention_of(text, 1))
    assert not routing.spam
    assert routing.department != "shipping"


def test_explain_says_the_model_outweighed_the_spam_rule() -> None:
    router = shipped_router()
    text = "three days without internet and I work from home, when is it fixed?"
    explained = router.explain(mention_of(text, 1)).to_dict()
    blocked = explained["not_fired"]
    assert isinstance(blocked, dict)
    assert "outweighed: the model (customer_service" in blocked["spam.promo_blast"]


def test_two_spam_rules_at_once_are_spam_whatever_the_model_says() -> None:
    router = shipped_router()
    text = "USE CODE FREE90 for 90% off, shop now"
    mention = mention_of(text, 1)
    assert router.model is not None
    top = router.model.predict([text])[0].top
    assert top.department != NONE and top.probability >= router.gate.threshold(top.department)
    routing = router.route(mention)
    assert routing.spam and len(routing.rules) == 2
