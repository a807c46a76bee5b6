"""The command line, run as a user would: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join(json.dumps(r) + "\n" if not isinstance(r, str) else r + "\n" for r in rows)
    )
    return path


def row(n: int, text: str) -> dict[str, object]:
    return {
        "id": f"reddit:t3_{n}",
        "source": "reddit",
        "url": f"https://www.reddit.example/r/gear/comments/{n}",
        "author": {"handle": f"user{n}", "followers": n},
        "text": text,
        "created_at": "2026-11-17T14:00:00Z",
    }


def assert_one_clear_line(result: object, *fragments: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("triagebot: ")]
    assert lines, stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


def all_cases(cwd: Path) -> list[dict[str, object]]:
    result = run_cli(["cases", "--state", "all", "--json", "--limit", "1000"], cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_ingest_then_ingest_again(tmp_path: Path) -> None:
    file = write_jsonl(
        tmp_path / "in.jsonl",
        [row(1, "northwind charged me twice"), row(2, "northwind parcel lost")],
    )
    first = run_cli(["ingest", str(file)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 new cases" in first.stdout
    second = run_cli(["ingest", str(file)], tmp_path)
    assert "0 new cases" in second.stdout and "2 already known" in second.stdout
    assert len(all_cases(tmp_path)) == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "in.jsonl:3: invalid JSON"),
        (json.dumps({**row(9, "northwind"), "url": "javascript:alert(1)"}), "in.jsonl:3: url:"),
        (json.dumps({**row(9, "northwind"), "created_at": "yesterday"}), "in.jsonl:3: created_at:"),
        (
            json.dumps({k: v for k, v in row(9, "northwind").items() if k != "id"}),
            "in.jsonl:3: id: is required",
        ),
        (
            json.dumps({k: v for k, v in row(9, "northwind").items() if k != "text"}),
            "in.jsonl:3: text: is required",
        ),
        (json.dumps({**row(9, "northwind"), "text": 7}), "in.jsonl:3: text: must be a string"),
    ],
)
def test_a_malformed_line_stores_nothing(tmp_path: Path, bad: str, message: str) -> None:
    file = write_jsonl(
        tmp_path / "in.jsonl", [row(1, "northwind refund"), row(2, "northwind refund"), bad]
    )
    result = run_cli(["ingest", str(file)], tmp_path)
    assert_one_clear_line(result, message)
    assert all_cases(tmp_path) == []


def test_an_empty_post_is_ignored_and_triaged_without_stopping_the_rest(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "in.jsonl", [row(1, ""), row(2, "northwind charged me twice")])
    result = run_cli(["ingest", str(file)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 new cases" in result.stdout and "1 ignored (own accounts, excluded or empty)" in (
        result.stdout
    )
    lines = "".join(json.dumps({"text": t}) + "\n" for t in ("", "you charged me twice"))
    triaged = run_cli(["triage", "--json"], tmp_path, stdin=lines)
    assert triaged.returncode == 0, triaged.stderr
    decisions = [json.loads(line) for line in triaged.stdout.splitlines()]
    assert len(decisions) == 2 and decisions[0]["department"] == "triage"


def test_missing_ingest_file(tmp_path: Path) -> None:
    assert_one_clear_line(run_cli(["ingest", "nope.jsonl"], tmp_path), "nope.jsonl: cannot read")


def test_missing_configuration_for_serve(tmp_path: Path) -> None:
    result = run_cli(["serve"], tmp_path)
    assert_one_clear_line(result, "triagebot.toml: file not found")


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "triagebot.toml").write_text("[brand\nname='x'\n")
    assert_one_clear_line(run_cli(["cases"], tmp_path), "triagebot.toml: invalid TOML")


def test_unknown_department_in_rules(tmp_path: Path) -> None:
    (tmp_path / "triagebot.toml").write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n[[departments]]\nid = "support"\n'
    )
    result = run_cli(["triage", "acme where is my parcel"], tmp_path)
    assert_one_clear_line(result, ".yaml", "shipping")


def test_negative_duration(tmp_path: Path) -> None:
    (tmp_path / "triagebot.toml").write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n[[departments]]\nid = "support"\n\n'
        '[sla.P2]\nclaim_within = "-1h"\nresolve_within = "1d"\n'
    )
    assert_one_clear_line(run_cli(["sla"], tmp_path), "sla.P2.claim_within")


def test_bad_since_argument(tmp_path: Path) -> None:
    assert_one_clear_line(run_cli(["sla", "--since=-3d"], tmp_path), "--since")


def test_claim_resolve_and_refusals(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "in.jsonl", [row(1, "northwind charged me twice")])
    assert run_cli(["ingest", str(file)], tmp_path).returncode == 0
    claim = run_cli(["claim", "1", "--by", "ana"], tmp_path)
    assert claim.returncode == 0 and "#1 is now claimed" in claim.stdout
    again = run_cli(["claim", "1", "--by", "ben"], tmp_path)
    assert again.returncode == 1
    assert "already claimed by Ana Lopez" in again.stderr and "Traceback" not in again.stderr
    forbidden = run_cli(["resolve", "1", "--by", "ben"], tmp_path)
    assert forbidden.returncode == 1 and "only they or a manager" in forbidden.stderr
    manager = run_cli(["resolve", "1", "--by", "maria"], tmp_path)
    assert manager.returncode == 0 and "resolved" in manager.stdout
    missing = run_cli(["claim", "99", "--by", "ana"], tmp_path)
    assert missing.returncode == 1 and "99" in missing.stderr
    show = run_cli(["show", "1", "--json"], tmp_path)
    actions = [e["action"] for e in json.loads(show.stdout)["events"]]
    assert actions == ["ingest", "claim", "resolve"]
    shown = run_cli(["show", "1"], tmp_path)
    assert shown.returncode == 0 and "answer due" in shown.stdout  # the first public answer


def test_reassigning_to_none_marks_spam_and_is_a_label_of_none(tmp_path: Path) -> None:
    posts: list[object] = [row(1, "northwind charged me twice"), row(2, "northwind poles snap")]
    file = write_jsonl(tmp_path / "in.jsonl", posts)
    assert run_cli(["ingest", str(file)], tmp_path).returncode == 0
    done = run_cli(["reassign", "1", "none", "--by", "ana"], tmp_path)
    assert done.returncode == 0 and "#1 is now spam" in done.stdout, done.stderr
    unknown = run_cli(["reassign", "2", "nobody", "--by", "ana"], tmp_path)
    assert unknown.returncode == 1 and "there is no department 'nobody'" in unknown.stderr
    show = json.loads(run_cli(["show", "1", "--json"], tmp_path).stdout)
    assert [e["action"] for e in show["events"]] == ["ingest", "spam"]
    assert show["events"][1]["actor"] == "cli:ana"


def test_sla_json_and_table(tmp_path: Path) -> None:
    file = write_jsonl(
        tmp_path / "in.jsonl", [row(1, "northwind charged me twice"), row(2, "northwind parcel")]
    )
    run_cli(["ingest", str(file)], tmp_path)
    run_cli(["resolve", "1", "--by", "ana"], tmp_path)
    result = run_cli(["sla", "--json", "--since", "30d"], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["total"]["count"] == 2
    table = run_cli(["sla"], tmp_path)
    assert table.returncode == 0 and "billing" in table.stdout


def test_triage_from_arguments_and_stdin(tmp_path: Path) -> None:
    args = run_cli(["triage", "northwind charged me twice"], tmp_path)
    assert args.returncode == 0, args.stderr
    assert json.loads(args.stdout)["department"] == "billing"
    promo = "USE CODE FREE90 for 90% off, shop now"
    lines = f'{{"text": "my parcel never arrived"}}\n{{"text": "{promo}", "source": "x"}}\n'
    piped = run_cli(["triage"], tmp_path, stdin=lines)
    out = [json.loads(line) for line in piped.stdout.splitlines()]
    assert out[0]["department"] == "shipping"
    assert out[1]["spam"] is True
    assert set(out[0]) >= {"department", "cc", "priority", "spam", "rules"}
    bad = run_cli(["triage"], tmp_path, stdin='{"text": "ok"}\n[1, 2]\n')
    assert_one_clear_line(bad, "stdin:2")


def test_migrate_is_a_noop_for_the_embedded_store(tmp_path: Path) -> None:
    (tmp_path / "triagebot.toml").write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n[[departments]]\nid = "support"\n'
    )
    result = run_cli(["migrate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
