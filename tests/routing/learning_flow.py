"""A deployment driven through the real ``triagebot`` commands, as a team would use it.

Posts are ingested with ``triagebot ingest``; the misrouted ones are corrected the way staff
would (``triagebot reassign``, which also reopens a post triagebot marked as spam, and
``triagebot spam``), and, if asked, the rightly routed ones resolved where they are
(``triagebot resolve``: a team's normal day, and a weaker confirmation for learning);
``triagebot routing learn`` retrains; ``triagebot triage --json`` routes new posts. Used by
the learning tests and by ``bench/bench_learning.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "triagebot.example.toml"
NONE = "none"
STAFF = "ana"
_HANDLE = re.compile(r"@([A-Za-z0-9_]{2,30})")


def brand_handles(texts: Sequence[str]) -> list[str]:
    """Every @handle the posts address: in a real deployment, the brand's own names."""
    return sorted({m.group(1).lower() for text in texts for m in _HANDLE.finditer(text)})


def config_for(texts: Sequence[str], departments: Sequence[str] = ()) -> str:
    """The example configuration, with every @handle the posts address among the brand's own
    handles (so that a post naming the brand's accounts, or a journalist's beside them, is
    about the brand, as the source that found it says) and ``departments`` added to its own."""
    example = EXAMPLE.read_text(encoding="utf-8")
    handles = json.dumps(["@northwind", *(f"@{h}" for h in brand_handles(texts))])
    text = re.sub(r"(?m)^handles = \[.*\]$", lambda _: f"handles = {handles}", example, count=1)
    blocks = "".join(f'[[departments]]\nid = "{d}"\nname = "{d.title()}"\n\n' for d in departments)
    at = text.index("[[departments]]")
    return text[:at] + blocks + text[at:]


@dataclass
class Deployment:
    """One deployment in ``folder`` (its own triagebot.toml and store)."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    posted: int = 0
    resolved: int = 0

    def setup(self, texts: Sequence[str], departments: Sequence[str] = ()) -> Deployment:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = config_for(texts, departments)
        (self.folder / "triagebot.toml").write_text(config, encoding="utf-8")
        return self

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        self.calls += 1
        result = run_cli(list(args), self.folder, env=self.env, stdin=stdin, timeout=900)
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
        return result

    def ingest(self, posts: Sequence[dict[str, Any]]) -> None:
        rows = []
        for post in posts:
            self.posted += 1
            n = self.posted
            rows.append(
                {
                    "id": f"x:{n}",
                    "source": "x",
                    "url": f"https://x.example/status/{n}",
                    "author": {"handle": f"customer{n}"},
                    "text": post["text"],
                    "created_at": "2026-11-17T14:00:00Z",
                }
            )
        path = self.folder / f"posts-{self.posted}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        self.cli("ingest", str(path))

    def cases(self) -> dict[str, dict[str, Any]]:
        """Every case by its post's text."""
        out = self.cli("cases", "--state", "all", "--json", "--limit", "100000").stdout
        return {case["mention"]["text"]: case for case in map(json.loads, out.splitlines())}

    def correct(
        self, posts: Sequence[dict[str, Any]], limit: int | None = None, *, resolve: bool = False
    ) -> int:
        """Correct the misrouted cases of ``posts`` as staff would (at most ``limit``, in the
        posts' order) and, with ``resolve``, resolve the rightly routed open ones up to there;
        how many were corrected."""
        cases = self.cases()
        corrected = 0
        for post in posts:
            if limit is not None and corrected >= limit:
                break
            case = cases.get(post["text"])
            if case is None:
                continue
            truth = post["label"]
            spam = case["state"] == "spam"
            if (NONE if spam else case["department"]) == truth:
                if resolve and not spam and case["state"] != "resolved":
                    self.cli("resolve", case["id"], "--by", STAFF)
                    self.resolved += 1
                continue
            corrected += 1
            if truth == NONE:
                self.cli("spam", case["id"], "--by", STAFF)
                continue
            self.cli("reassign", case["id"], truth, "--by", STAFF)  # a spam case: reopened too
        return corrected

    def learn(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.cli("routing", "learn", "--json").stdout)
        return result

    def triage(self, texts: Sequence[str]) -> list[str]:
        """The top-1 department of each text (``none`` for no department), as routed now."""
        return [top_one(decision) for decision in self.triage_decisions(texts)]

    def triage_decisions(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``triagebot triage --json``'s decision on each text."""
        stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts)
        out = self.cli("triage", "--json", stdin=stdin).stdout
        return [json.loads(line) for line in out.splitlines()]


def top_one(decision: dict[str, Any]) -> str:
    """The department a routing decision puts first: where it sent the post, else the model's
    first choice (``none`` when the model thinks no department owns it)."""
    if decision.get("spam"):
        return NONE
    department = str(decision["department"])
    if department != "triage":
        return department
    suggestions = decision.get("suggestions") or []
    return str(suggestions[0]["department"]) if suggestions else NONE


def accuracy(predicted: Sequence[str], posts: Sequence[dict[str, Any]]) -> float:
    right = sum(p == str(post["label"]) for p, post in zip(predicted, posts, strict=True))
    return right / len(posts)
