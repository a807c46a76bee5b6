"""`triagebot rules check`: every problem as file:line, exit 2; the shipped rules pass."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.triage_helpers import DEPARTMENTS, write_rules
from triagebot.routing.rules.check import check_rules

ROOT = Path(__file__).resolve().parents[2]


def problems(folder: Path, files: dict[str, str], sources: tuple[str, ...] = ()) -> list[str]:
    write_rules(folder, files)
    return [
        f"{p.path.name}:{p.line}: {p.message}" for p in check_rules(folder, DEPARTMENTS, sources)
    ]


def test_the_shipped_rules_have_no_problems() -> None:
    assert check_rules(ROOT / "rules", DEPARTMENTS) == []


def test_a_term_claimed_by_two_departments_with_equal_weight(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "billing.yaml": "department: billing\nrules:\n  - {name: money, terms: [refund, card]}",
            "shipping.yaml": "department: shipping\nrules:\n  - name: returns\n    terms:\n"
            "      - parcel\n      - Refunds\n",
            "sales.yaml": "department: sales\nrules:\n  - {name: cards, weight: 2, terms: [card]}",
        },
    )
    assert len(found) == 1
    assert found[0].startswith(
        "shipping.yaml:6: shipping.returns: term 'Refunds' is also claimed by"
    )
    assert "billing (billing.money, billing.yaml:3)" in found[0]


def test_rules_that_can_never_fire(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "pr.yaml": """
                department: pr
                rules:
                  - name: cancelled
                    terms: [refund policy]
                    unless: [refund]
                  - name: needs_dead
                    terms: [x]
                    when: {matched: [cancelled]}
                  - name: contradiction
                    terms: [y]
                    when: {matched: [needs_dead], not_matched: [needs_dead]}
                  - name: nowhere
                    terms: [z]
                    when: {source: [myspace]}
                  - name: empty_range
                    when: {followers: "< 0"}
                  - name: bad_lang
                    terms: [w]
                    when: {lang: [english!]}
                  - name: fine
                    terms: [v]
                    when: {source: [forum, appstore]}
                  - name: on_facebook
                    terms: [u]
                    when: {source: [facebook, instagram, googleplay, discourse]}
            """
        },
        sources=("forum",),
    )
    assert found == [
        "pr.yaml:3: pr.cancelled: can never fire: every term is cancelled by its own `unless`",
        "pr.yaml:6: pr.needs_dead: can never fire: when.matched: pr.cancelled can never fire",
        "pr.yaml:9: pr.contradiction: can never fire: when: the same rule is both in `matched` "
        "and `not_matched`",
        "pr.yaml:12: pr.nowhere: can never fire: when.source: no configured source or source "
        "type is ['myspace']",
        "pr.yaml:15: pr.empty_range: can never fire: when.followers: no follower count is in "
        "that range",
        "pr.yaml:17: pr.bad_lang: can never fire: when.lang: ['english!'] are not language codes "
        "(like en, es, pt-br)",
    ]


def test_parse_errors_are_listed_with_the_rest(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "a.yaml": "department: billing\nrules:\n  - {name: r, regex: ['[unclosed']}\n",
            "b.yaml": "department: sales\nrules:\n  - {name: s\n",
            "c.yaml": "department: legal\n",
        },
    )
    assert [line.split(": ")[0] for line in found] == ["a.yaml:3", "b.yaml:4", "c.yaml:1"]
    assert "invalid regular expression" in found[0]
    assert "invalid YAML" in found[1]
    assert "unknown department 'legal'" in found[2]


def test_cli_exit_2_with_one_line_per_problem(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules",
        {
            "pr.yaml": "department: pr\nrules:\n  - {name: a, terms: [x], regex: ['(']}\n"
            "  - {name: b, terms: [y], department: legal}\n  - {name: c, term: [z]}\n"
        },
    )
    (tmp_path / "triagebot.toml").write_text((ROOT / "triagebot.example.toml").read_text())
    result = run_cli(["rules", "check"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("triagebot: ")]
    assert len(lines) == 3 and "Traceback" not in result.stderr
    where = [line.split(": ")[1] for line in lines]
    assert where == ["rules/pr.yaml:3", "rules/pr.yaml:4", "rules/pr.yaml:5"]
    assert rules.is_dir()
    ok = run_cli(["rules", "check", "--dir", str(ROOT / "rules")], tmp_path)
    assert ok.returncode == 0 and "rules OK" in ok.stdout


def test_cli_triage_explain(tmp_path: Path) -> None:
    result = run_cli(["triage", "--explain", "--json", "I want my money back, REFUNDED?"], tmp_path)
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert explained["department"] == "billing"
    assert explained["matches"] == []  # no department rule: the model decided
    assert [m["department"] for m in explained["model"]][:1] == ["billing"]
    assert len(explained["model"]) == 3
    carried = run_cli(
        ["triage", "--explain", "--json", "the fedex driver left my box in the rain"], tmp_path
    )
    rule = next(m for m in json.loads(carried.stdout)["matches"])
    assert rule["rule"] == "shipping.carrier_names"
    assert rule["words"] == ["fedex"]
    text = run_cli(["triage", "--explain", "my parcel never arrived"], tmp_path)
    assert "-> shipping" in text.stdout and "model: shipping" in text.stdout
