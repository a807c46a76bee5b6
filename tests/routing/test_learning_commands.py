"""Learning from the team through the real commands, on both stores.

An insurer's deployment has a department the shipped model has never heard of (``claims``).
Posts are ingested with ``triagebot ingest``; staff hand every claim to ``claims`` with
``triagebot reassign``; ``triagebot routing learn`` retrains and activates; later posts,
routed with ``triagebot triage --json`` by other processes, go to ``claims`` while the other
departments keep their posts.

A retailer's returns desk (``customer_service``) owns the refunds of returned items, which the
shipped first pass is sure belong to ``billing`` (or ``shipping``): learning retrains the first
pass too, so after ``routing learn`` such posts go where the team sends them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.routing.learning_flow import Deployment, accuracy
from tests.store.pg_helpers import throwaway_schema
from triagebot.paths import packaged_path

EARLY_CLAIMS = [
    "Filed a claim for my cracked windscreen with Northwind two weeks ago, still no adjuster "
    "assigned. Claim ref NW-22817",
    "@northwind how long does a water damage claim usually take to get approved? submitted "
    "photos on monday",
    "northwind rejected my claim for the stolen bike saying I didn't have a receipt. I sent the "
    "bank statement, what else do you want",
    "Need to open a claim: tree fell on my garage last night during the storm. Northwind policy "
    "holder, what do I do first?",
    "My northwind claim was marked 'pending documents' but I uploaded everything. Can someone "
    "check claim 88310?",
    "Adjuster from Northwind came out, valued the hail damage at half what the roofer quoted. "
    "How do I appeal a claim decision?",
    "northwind: is there a way to add more photos to an existing claim? the app only lets me "
    "upload 5",
    "Car was rear-ended Friday, other driver's fault. Do I file the claim with northwind or "
    "with their insurer?",
    "It's been 40 days since I filed my Northwind travel claim for the cancelled trip. Status "
    "still says 'under review'.",
    "@northwind my claim handler left the company and nobody has picked up my file since. "
    "Claim NW-55190, burst pipe.",
    "Reclamación abierta con Northwind por el robo del coche hace un mes y nadie me ha llamado. "
    "¿Cómo va mi siniestro?",
    "Northwind asked for a police report for my lost luggage claim, the airline gave me a PIR, "
    "is that enough?",
]
LATER = [
    (
        "How do I check the status of my Northwind claim? Filed it online after the kitchen fire, "
        "no email since.",
        "claims",
    ),
    (
        "Submitted a northwind claim for storm damage to the fence, got a claim number but no "
        "adjuster visit yet",
        "claims",
    ),
    (
        "@northwind I want to dispute the settlement amount on my car write-off claim, it's way "
        "under market value",
        "claims",
    ),
    (
        "Third time uploading the same invoice to my northwind claim because the portal 'lost' "
        "it. Claim 77012.",
        "claims",
    ),
    (
        "Sinistre déclaré chez Northwind pour un dégât des eaux il y a trois semaines, toujours "
        "aucun expert. Que faire ?",
        "claims",
    ),
    (
        "northwind how many days do I have to file a claim after a break-in? was away on holiday "
        "and only just found out",
        "claims",
    ),
    (
        "what does northwind charge for adding a second driver to my car policy? thinking of "
        "switching from my current insurer",
        "sales",
    ),
    (
        "@northwind you charged my card twice for the March premium, please refund one of them",
        "billing",
    ),
    (
        "Can't log into my Northwind account, the password reset email never arrives",
        "customer_service",
    ),
    (
        "Applied for the underwriting internship at Northwind last month, has anyone heard back?",
        "hr",
    ),
    (
        "Journalist at the Daily Ledger here, writing about insurers and flood zones. Could "
        "someone from Northwind's press office get in touch?",
        "pr",
    ),
    ("Wish the Northwind app had a dark mode and Apple Pay, otherwise a decent app", "product"),
]


@pytest.fixture(params=["tinydb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "tinydb":
        yield {}
        return
    with throwaway_schema() as (url, schema):
        yield {"DATABASE_URL": f"{url}?options=-csearch_path%3D{schema}"}


@pytest.mark.slow
def test_reassignments_teach_the_model_and_other_processes_route_with_it(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    later = [{"text": text, "label": label} for text, label in LATER]
    texts = EARLY_CLAIMS + [p["text"] for p in later]
    team = Deployment(tmp_path / "deployment", store_env).setup(texts, ["claims"])
    before = team.triage([p["text"] for p in later])
    assert "claims" not in before  # the shipped model cannot know it

    team.ingest([{"text": t} for t in EARLY_CLAIMS])
    corrected = team.correct([{"text": t, "label": "claims"} for t in EARLY_CLAIMS])
    assert corrected == len(EARLY_CLAIMS)
    learned = team.learn()
    assert learned["activated"], learned
    assert (learned["labels"], learned["corrections"]) == (12, 12)
    assert learned["after"]["accuracy"] >= learned["before"]["accuracy"]

    after = team.triage([p["text"] for p in later])
    claims = [i for i, p in enumerate(later) if p["label"] == "claims"]
    assert sum(after[i] == "claims" for i in claims) >= len(claims) // 2, (before, after)
    others = [i for i, p in enumerate(later) if p["label"] != "claims"]
    kept = sum(after[i] == later[i]["label"] for i in others)
    assert kept >= sum(before[i] == later[i]["label"] for i in others) - 1, (before, after)
    assert accuracy(after, later) >= accuracy(before, later) + 0.2, (before, after)

    report = json.loads(team.cli("routing", "report", "--json").stdout)
    assert report["corrections"] == 12 and report["accuracy"] == 0.0
    assert report["departments"]["claims"]["recall"] == 0.0


RETURN_REFUNDS = [
    "@northwind returned the jacket three weeks ago and still no refund on my card",
    "Sent the boots back to Northwind on the 3rd, your warehouse signed for them, where is my "
    "refund?",
    "Returned a damaged lamp to Northwind, they confirmed receipt but the refund never came",
    "Still waiting on the refund for the sofa cover I sent back, northwind order 77310",
    "my northwind refund for the returned shoes is missing, returned them on the 2nd",
    "northwind I sent back the wrong-size dress 12 days ago, refund still not on my card",
    "Returned two shirts to Northwind in store, the refund was supposed to be instant, nothing yet",
    "Northwind return label used, parcel delivered back to you, still no refund after 3 weeks",
    "@northwind I returned the headphones last week, when do I get my refund?",
    "Returned the rug to Northwind two weeks ago, warehouse confirmed, refund still missing",
    "my refund for the trainers I returned to northwind hasn't come through, 10 days now",
    "Northwind said my returned parcel arrived but my card still shows no refund",
    "gave the faulty toaster back at the Northwind desk in March, the refund still hasn't landed",
    "Northwind warehouse scanned my return on Tuesday. Refund? Nothing so far",
    "returned a northwind backpack with the prepaid label, 3 weeks, no refund yet",
    "@northwind my returned jeans were delivered to you on the 9th, refund still pending",
    "Took the broken kettle back to Northwind, they kept it, no refund on my statement",
    "northwind got my returned tent back ages ago and the refund is nowhere",
]
#: Posts the shipped first pass is sure of (at least ``SURE_AT``), all returned-item refunds.
LATER_REFUNDS = [
    "Northwind got my return package last Monday, when will the refund hit my account?",
    "@northwind refund for my returned blender please, you received it on the 5th",
    'sent my northwind return back a month ago and the refund is still "processing"',
    "Northwind refund still missing for the jacket I returned, when will I get my money back",
    "Where is the refund for my Northwind return? They got the package on Friday",
    "northwind refund for the returned kettle still not showing, sent it back on the 1st",
]
LATER_OTHERS = [
    (
        "@northwind you charged my card twice for the same order, refund the double charge",
        "billing",
    ),
    ("Where is my Northwind parcel? Tracking hasn't moved in five days", "shipping"),
    (
        "Can't log into my Northwind account, the password reset email never arrives",
        "customer_service",
    ),
    ("Applied for the warehouse job at Northwind last month, has anyone heard back?", "hr"),
]


@pytest.mark.slow
def test_corrections_reach_posts_the_shipped_first_pass_is_sure_of(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    from triagebot.routing.model.classifier import DepartmentModel, sure  # noqa: PLC0415

    shipped = DepartmentModel.shipped().first_pass
    assert shipped is not None
    assert sure(shipped.probabilities(LATER_REFUNDS), shipped.labels).all()
    later = [{"text": t, "label": "customer_service"} for t in LATER_REFUNDS]
    later += [{"text": text, "label": label} for text, label in LATER_OTHERS]
    texts = [p["text"] for p in later]
    team = Deployment(tmp_path / "deployment", store_env).setup(RETURN_REFUNDS + texts)
    before = team.triage(texts)
    assert "customer_service" not in before[: len(LATER_REFUNDS)]

    team.ingest([{"text": t} for t in RETURN_REFUNDS])
    returns = [{"text": t, "label": "customer_service"} for t in RETURN_REFUNDS]
    assert team.correct(returns) == len(RETURN_REFUNDS)
    learned = team.learn()
    assert learned["activated"], learned

    after = team.triage(texts)
    moved = sum(p == "customer_service" for p in after[: len(LATER_REFUNDS)])
    assert moved >= len(LATER_REFUNDS) // 2, (before, after)  # behind the shipped one: none
    assert after[len(LATER_REFUNDS) :] == [label for _, label in LATER_OTHERS], after


#: A parcel carrier's own customers: trouble with its app and account, which the shipped rule
#: ``shipping.carrier_names`` sends to shipping for naming the carrier; the team handles them as
#: help (``customer_service``).
CARRIER_APP = [
    "@northwind the evri app logs me out every time I open it",
    "evri app won't accept my password since the update @northwind",
    "@northwind can't sign in to my evri account, it says my email is unknown",
    "the evri website shows a blank page after login on safari @northwind",
    "@northwind evri app crashes on my pixel when I open settings",
    "my evri account got locked after one wrong password @northwind",
]
LATER_APP = "@northwind the evri app keeps crashing when I try to log in. reinstalled twice"


@pytest.mark.slow
def test_a_shipped_rule_the_team_keeps_correcting_is_overruled(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    team = Deployment(tmp_path / "carrier", store_env).setup([*CARRIER_APP, LATER_APP])
    ruled = team.triage_decisions([*CARRIER_APP, LATER_APP])
    assert all(d["rules"] == ["shipping.carrier_names"] for d in ruled), ruled

    team.ingest([{"text": t} for t in CARRIER_APP])
    assert team.correct([{"text": t, "label": "customer_service"} for t in CARRIER_APP]) == 6
    learned = team.learn()
    assert learned["activated"], learned
    assert learned["overruled_rules"] == ["shipping.carrier_names"]
    assert {"rule": "shipping.carrier_names", "decides": "shipping",
            "fired": 6, "wrong": 6} in learned["rules"]  # fmt: skip

    [later] = team.triage_decisions([LATER_APP])  # another process, the stored model
    assert "shipping.carrier_names" not in later["rules"]
    assert any(r.startswith(("model:", "suggest:")) for r in later["rules"]), later
    explained = team.cli("triage", "--explain", LATER_APP).stdout
    assert "shipping.carrier_names" in explained and "overruled" in explained

    again = team.learn()  # its posts no longer show it: it stays overruled
    assert again["overruled_rules"] == ["shipping.carrier_names"]
    report = json.loads(team.cli("routing", "report", "--json").stdout)
    assert report["model"] == {
        "version": again["version"],
        "overruled_rules": ["shipping.carrier_names"],
    }


@pytest.mark.slow
def test_a_rule_in_the_deployments_own_folder_is_never_overruled(tmp_path: Path) -> None:
    team = Deployment(tmp_path / "carrier").setup(CARRIER_APP)
    shutil.copytree(packaged_path("rules"), team.folder / "rules")  # the team's rules now
    team.ingest([{"text": t} for t in CARRIER_APP])
    assert team.correct([{"text": t, "label": "customer_service"} for t in CARRIER_APP]) == 6
    out = team.cli("routing", "learn", "--dry-run", "--json").stdout
    checked = json.loads(out)
    assert checked["overruled_rules"] == [] and checked["rules"] == []
