"""`rules backtest` on a small store: moves, fixes and breaks against where cases ended."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.triage_helpers import DEPARTMENTS, post, write_rules
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import MarkSpam, Reassign
from triagebot.cases.records import Priority
from triagebot.config.settings import Settings
from triagebot.ingest.pipeline import Pipeline
from triagebot.routing.backtest import backtest
from triagebot.routing.router import Router
from triagebot.store import open_store

ANA = Identity("cli", "ana")
OLD = {
    "rules.yaml": """
        rules:
          - {name: refund, department: billing, terms: [refund]}
          - {name: parcel, department: shipping, terms: [parcel]}
          - {name: promo, spam: true, weight: 5, terms: [promo]}
        options: {spam_threshold: 1}
    """
}
NEW = {
    "rules.yaml": """
        rules:
          - {name: refund, department: billing, terms: [refund]}
          - {name: parcel, department: shipping, terms: [parcel, tracking]}
          - {name: job, department: hr, terms: [job]}
    """
}


def test_backtest_counts_moves_fixes_and_breaks(
    tmp_path: Path, settings: Settings, now: datetime
) -> None:
    store = open_store(tmp_path / "db.json")
    old = Router.load(write_rules(tmp_path / "old", OLD), DEPARTMENTS, Priority.P2)
    texts = [
        "refund please",  # billing -> billing, stays
        "tracking says nothing",  # triage -> shipping; staff moved it to shipping: fixed
        "job interview?",  # triage -> hr; staff moved it to sales: neither
        "promo for my parcel",  # spam -> shipping; nobody touched it, so spam is the truth: broken
        "parcel late",  # shipping -> shipping
    ]
    mentions = [post(text, number=n) for n, text in enumerate(texts, 1)]
    cases = Pipeline(store, settings, old).ingest(mentions, now).new
    policy = SettingsPolicy(settings)
    execute(store, policy, Reassign(cases[1].id, ANA, "cli", department="shipping"), now)
    execute(store, policy, Reassign(cases[2].id, ANA, "cli", department="sales"), now)
    execute(store, policy, MarkSpam(cases[4].id, ANA, "cli"), now)  # truth: spam
    new = Router.load(write_rules(tmp_path / "new", NEW), DEPARTMENTS, Priority.P2)
    result = backtest(store, new, now + timedelta(minutes=1), timedelta(days=30))
    store.close()
    assert (result.total.cases, result.total.moved, result.total.fixed, result.total.broken) == (
        5,
        3,
        1,
        1,
    )
    assert (result.old_correct, result.new_correct) == (2, 2)
    assert dict(result.moves) == {
        ("triage", "shipping"): 1,
        ("triage", "hr"): 1,
        ("spam", "shipping"): 1,
    }
    shipping = result.departments["shipping"]
    assert (shipping.before, shipping.after, shipping.moved_in, shipping.fixed) == (1, 3, 2, 1)
    assert result.departments["spam"].broken == 1
    assert result.rules["rules.parcel"].moved == 2
    assert result.rules["rules.promo"].broken == 1
    assert result.to_dict()["accuracy_after"] == 0.4


def test_backtest_cli_json_and_table(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(
        json.dumps(
            {
                "id": "x:1",
                "source": "x",
                "url": "https://x.example/1",
                "text": "northwind where is my parcel",
                "created_at": "2026-11-17T14:00:00Z",
            }
        )
        + "\n"
    )
    assert run_cli(["ingest", "in.jsonl"], tmp_path).returncode == 0
    result = run_cli(["rules", "backtest", "--since", "30d", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["cases"], report["moved"]) == (1, 0)
    table = run_cli(["rules", "backtest"], tmp_path)
    assert table.returncode == 0 and "1 cases in the last 30d: 0 would move" in table.stdout
    bad = run_cli(["rules", "backtest", "--since", "soon"], tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr
