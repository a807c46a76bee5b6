"""Case facts: the document path equals the case path; the collector pause is undone."""

from __future__ import annotations

import gc
import random

import pytest

from tests.store.builders import varied_case
from triagebot.cases.facts import crosspost_keys, gc_paused, sla_facts, sla_facts_of_doc
from triagebot.cases.records import Case


def test_facts_of_a_document_equal_the_facts_of_its_case() -> None:
    rng = random.Random(1)
    for n in range(200):
        case = varied_case(rng, n)
        assert sla_facts_of_doc(case.to_dict()) == sla_facts(Case.from_dict(case.to_dict()))


def test_facts_count_the_claimer_or_else_the_resolver_once_claimed() -> None:
    rng = random.Random(2)
    cases = [varied_case(rng, n) for n in range(200)]
    for case in cases:
        facts = sla_facts(case)
        if case.first_claimed_at is None:
            assert facts.person is None
        else:
            who = case.claimed_by or case.resolved_by
            assert facts.person == (None if who is None else str(who))


def test_crosspost_keys_are_canonical_links_and_the_author() -> None:
    case = varied_case(random.Random(3), 1)
    keys = crosspost_keys(case)
    assert len(keys.urls) == 1
    assert keys.author == "jo"


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
