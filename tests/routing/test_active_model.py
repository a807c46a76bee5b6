"""The active model lives in the store: another process routes with it (behind its own first
pass, or the shipped one for a model stored without), a running server picks a new one up, and
a corrupt or missing one falls back to the shipped model with a log line."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import run_cli
from triagebot.config.settings import Settings
from triagebot.routing.model.active import (
    ACTIVE_KEY,
    VERSION_KEY,
    StoredModel,
    load_active,
    save_stored,
    stored_version,
)
from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.model.embedder import DIM, MODEL_NAME
from triagebot.routing.model.first_pass import BUCKETS, FirstPass
from triagebot.routing.model.head import LinearHead
from triagebot.runtime.model_jobs import ModelRefresher, learn_now, register_model_jobs
from triagebot.runtime.scheduler import create_scheduler
from triagebot.runtime.wiring import Runtime
from triagebot.store.tinydb_store import TinyDBStore

LABELS = ("billing", "customer_service", "hr", "none", "pr", "product", "sales", "shipping")
TEXT = "quick question about the thing I saw on your site yesterday"


def always(department: str, version: str) -> StoredModel:
    """A model that sends every post to ``department``, whatever it says."""
    bias = np.array([8.0 if label == department else 0.0 for label in LABELS], np.float32)
    head = LinearHead(LABELS, np.zeros((len(LABELS), DIM), np.float32), bias, MODEL_NAME)
    return StoredModel(version, head, "2026-11-17T15:00:00+00:00", 12, {})


def store_in(folder: Path) -> TinyDBStore:
    return TinyDBStore(folder / "data" / "triagebot.json")


def triage(folder: Path) -> tuple[dict[str, object], str]:
    result = run_cli(["triage", "--json", TEXT], folder)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_a_model_stored_by_one_process_routes_in_another(tmp_path: Path) -> None:
    with store_in(tmp_path) as store:
        save_stored(store, always("hr", "learned-test-1"))
    decision, _ = triage(tmp_path)
    assert decision["department"] == "hr"
    assert "model:hr=1.00" in decision["rules"]  # type: ignore[operator]


def test_a_corrupt_stored_model_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    with store_in(tmp_path) as store:
        store.set_cursor(ACTIVE_KEY, '{"version": "learned-x", "head": "not base64!"}')
        store.set_cursor(VERSION_KEY, "learned-x")
    decision, stderr = triage(tmp_path)
    assert "routing model in the store ignored" in stderr
    assert "routing with the shipped model" in stderr
    assert "Traceback" not in stderr
    assert decision["department"] != "hr" or "model:hr=1.00" not in decision["rules"]  # type: ignore[operator]


def test_a_model_of_another_embedder_is_ignored(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    model = always("hr", "learned-old")
    head = LinearHead(LABELS, model.head.weights, model.head.bias, "some-other-embedder")
    with store_in(tmp_path) as store:
        save_stored(store, StoredModel("learned-old", head, model.trained_at, 3, {}))
        with caplog.at_level(logging.INFO):
            active = load_active(store, settings.departments)
    assert active.version == "shipped"
    assert "was trained on some-other-embedder" in caplog.text


def test_no_stored_model_routes_with_the_shipped_one_and_says_so(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with store_in(tmp_path) as store, caplog.at_level(logging.INFO):
        active = load_active(store, settings.departments)
        assert stored_version(store) == "shipped"
    assert active.version == "shipped"
    assert "no learned routing model in the store" in caplog.text


def test_a_running_server_picks_up_a_newly_stored_model(settings: Settings) -> None:
    runtime = Runtime.build(settings)
    try:
        refresher = ModelRefresher(runtime)
        assert refresher.seen == "shipped" and not refresher.check()
        with TinyDBStore(settings.env.db_path) as other:  # e.g. `routing learn` on a one-off dyno
            save_stored(other, always("pr", "learned-test-2"))
        assert refresher.check()
        model = runtime.router.model
        assert model is not None and model.version == "learned-test-2"
        assert not refresher.check()  # one small read, nothing loaded again
    finally:
        runtime.close()


def test_the_leader_learns_nightly_and_every_process_refreshes(settings: Settings) -> None:
    runtime = Runtime.build(settings)
    try:
        scheduler = create_scheduler()
        assert register_model_jobs(runtime, scheduler) is not None
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert jobs["routing-learn"].executor == "default"  # leader only
        assert jobs["routing-model-refresh"].executor == "every-process"
        assert "hour='3'" in str(jobs["routing-learn"].trigger)
    finally:
        runtime.close()


def test_the_nightly_learning_keeps_the_model_when_there_is_too_little_to_learn(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime.build(settings)
    try:
        refresher = ModelRefresher(runtime)
        with caplog.at_level(logging.INFO):
            assert not learn_now(runtime, refresher)
        model = runtime.router.model
        assert model is not None and model.version == "shipped"
        assert "event=routing_learned activated=False labels=0" in caplog.text
    finally:
        runtime.close()


def with_first_pass(model: StoredModel, department: str) -> StoredModel:
    """``model`` behind a first pass sure of ``department`` for every post."""
    bias = np.array([8.0 if label == department else 0.0 for label in LABELS], np.float32)
    first_pass = FirstPass(LABELS, np.zeros((BUCKETS, len(LABELS)), np.float32), bias)
    return replace(model, first_pass=first_pass)


def test_the_leader_routes_behind_the_first_pass_it_has_just_learned(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly job swaps in the new model at once, first pass included (not the shipped
    one behind the new head)."""
    from triagebot.routing import learning  # noqa: PLC0415

    learned = with_first_pass(always("hr", "learned-nightly"), "pr")
    learned = replace(learned, overruled=("shipping.carrier_names",))
    monkeypatch.setattr(learning, "learn", lambda *_args, **_kwargs: (_Activated(), learned))
    runtime = Runtime.build(settings)
    try:
        refresher = ModelRefresher(runtime)
        assert learn_now(runtime, refresher)
        model = runtime.router.model
        assert model is not None and model.version == "learned-nightly"
        assert model.first_pass is learned.first_pass
        assert model.overruled == {"shipping.carrier_names"}
        assert refresher.seen == "learned-nightly"
        assert model.predict(["where is my parcel"])[0].top.department == "pr"
    finally:
        runtime.close()


class _Activated:
    """What ``learn`` reports for an activated model (the fields the nightly job logs)."""

    activated, labels, corrections, held_out, reason = True, 40, 12, 8, "activated"
    overruled = ("shipping.carrier_names",)

    class before:
        accuracy = 0.5

    class after:
        accuracy = 0.75


def test_a_stored_first_pass_round_trips_and_routes_in_another_process(tmp_path: Path) -> None:
    model = with_first_pass(always("hr", "learned-test-3"), "pr")
    model = replace(model, overruled=("spam.deal_sites",))
    again = StoredModel.from_text(model.to_text())
    assert again.first_pass is not None and again.first_pass.labels == LABELS
    assert again.overruled == ("spam.deal_sites",)
    assert np.allclose(again.first_pass.bias, model.first_pass.bias)  # type: ignore[union-attr]
    with store_in(tmp_path) as store:
        save_stored(store, model)
    decision, _ = triage(tmp_path)
    assert decision["department"] == "pr"  # the first pass is sure: the head is not asked
    assert "model:pr=1.00" in decision["rules"]  # type: ignore[operator]


def test_a_model_stored_without_a_first_pass_routes_behind_the_shipped_one(
    tmp_path: Path, settings: Settings
) -> None:
    older = always("hr", "learned-old-format")
    text = older.to_text()
    assert "first_pass" not in json.loads(text)  # as stored before learning reached it
    with store_in(tmp_path) as store:
        store.set_cursor(ACTIVE_KEY, text)
        active = load_active(store, settings.departments)
    assert active.version == "learned-old-format"
    shipped = DepartmentModel.shipped(settings.departments).first_pass
    assert active.first_pass is not None and shipped is not None
    assert np.array_equal(active.first_pass.bias, shipped.bias)


def test_a_corrupt_stored_first_pass_falls_back_to_the_shipped_model(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    data = json.loads(always("hr", "learned-y").to_text())
    data["first_pass"] = base64.b64encode(b"not an npz archive").decode("ascii")
    with store_in(tmp_path) as store, caplog.at_level(logging.INFO):
        store.set_cursor(ACTIVE_KEY, json.dumps(data))
        active = load_active(store, settings.departments)
    assert active.version == "shipped"
    ignored = [r for r in caplog.records if "routing model in the store ignored" in r.message]
    assert len(ignored) == 1 and "first-pass" in ignored[0].message
