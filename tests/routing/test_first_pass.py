"""The cheap first pass: sure posts skip the embedder; a learned model routes behind its own
first pass and blends it in where it is not sure, a learned head stored without one behind the
shipped first pass unless it has a department the first pass does not know; heavier samples
count more in training."""

from __future__ import annotations

import numpy as np

from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.model.embedder import Vectors, shared_embedder
from triagebot.routing.model.first_pass import BUCKETS, SURE_AT, FirstPass, Sparse
from triagebot.routing.model.head import LinearHead

SURE = "@acme you charged my card twice for the same order, I want a refund of the double charge"
UNSURE = "hmm ok"


class CountingEmbedder:
    """The shipped embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.inner = shared_embedder()
        self.name = self.inner.name
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> Vectors:
        self.texts.extend(texts)
        return self.inner.embed(texts)


def test_a_post_the_first_pass_is_sure_of_is_not_embedded() -> None:
    shipped = DepartmentModel.shipped()
    assert shipped.first_pass is not None
    assert shipped.first_pass.probabilities([SURE]).max() >= SURE_AT
    counting = CountingEmbedder()
    model = DepartmentModel(shipped.head, counting, None, "shipped", shipped.first_pass)
    sure, unsure = model.predict([SURE, UNSURE])
    assert counting.texts == [UNSURE]
    assert sure.top.department == "billing"
    assert sure.top.probability >= SURE_AT
    assert abs(sum(s.probability for s in unsure.ranked) - 1.0) < 1e-4


def test_a_learned_head_keeps_the_first_pass_unless_it_learned_a_department_of_its_own() -> None:
    shipped = DepartmentModel.shipped()
    same = DepartmentModel.learned(shipped.head, None, "learned-1")
    assert same.first_pass is not None
    head = shipped.head
    claims = LinearHead(
        (*head.labels, "claims"),
        np.vstack([head.weights, np.zeros((1, head.weights.shape[1]), np.float32)]),
        np.append(head.bias, np.float32(0.0)),
        head.embedder,
    )
    own = DepartmentModel.learned(claims, None, "learned-2")
    assert own.first_pass is None
    counting = CountingEmbedder()
    own.embedder = counting
    own.predict([SURE])
    assert counting.texts == [SURE]


def test_the_first_pass_learns_and_round_trips() -> None:
    texts = [
        "refund my double charge",
        "where is my parcel tracking",
        "refund please",
        "parcel lost",
    ]
    labels = ["billing", "shipping", "billing", "shipping"]
    model = FirstPass.fit(texts, labels)
    again = FirstPass.from_bytes(model.to_bytes())
    probabilities = again.probabilities(["refund the charge", "my parcel"])
    assert [again.labels[i] for i in probabilities.argmax(axis=1)] == ["billing", "shipping"]
    assert np.allclose(
        probabilities, model.probabilities(["refund the charge", "my parcel"]), atol=1e-2
    )
    small = model.to_bytes(small=True)
    assert np.allclose(
        FirstPass.from_bytes(small).probabilities(["refund the charge", "my parcel"]),
        model.probabilities(["refund the charge", "my parcel"]),
        atol=1e-2,
    )


def test_heavier_samples_sway_the_first_pass() -> None:
    texts = ["refund for my returned parcel", "refund for my returned parcel", "refund please"]
    texts += ["where is my parcel tracking", "refund my double charge", "parcel lost"]
    labels = ["billing", "shipping", "billing", "shipping", "billing", "shipping"]
    even = FirstPass.fit(texts, labels)
    assert np.allclose(even.weights, FirstPass.fit(texts, labels, [3.0] * 6).weights, atol=1e-6)
    heavy = FirstPass.fit(texts, labels, [1.0, 5.0, 1.0, 1.0, 1.0, 1.0])
    probabilities = heavy.probabilities(["refund for my returned parcel"])[0]
    assert heavy.labels[int(probabilities.argmax())] == "shipping"


def test_a_learned_model_routes_behind_its_own_first_pass() -> None:
    shipped = DepartmentModel.shipped()
    assert shipped.first_pass is not None
    labels = shipped.head.labels
    bias = np.array([8.0 if label == "hr" else 0.0 for label in labels], np.float32)
    own = FirstPass(labels, np.zeros_like(shipped.first_pass.weights), bias)
    model = DepartmentModel.learned(shipped.head, None, "learned-3", own)
    assert model.first_pass is own
    counting = CountingEmbedder()
    model.embedder = counting
    (prediction,) = model.predict([SURE])
    assert prediction.top.department == "hr" and counting.texts == []


def test_a_learned_model_blends_its_first_pass_where_it_is_not_sure() -> None:
    """Below ``SURE_AT`` a learned first pass still counts: the normalised geometric mean of
    its probabilities and the head's; the shipped model routes on its head alone there."""
    shipped = DepartmentModel.shipped()
    assert shipped.first_pass is not None
    labels = shipped.head.labels
    # A first pass leaning to hr, never sure of it (about 0.55 against 8 labels at 0.065).
    bias = np.array([2.15 if label == "hr" else 0.0 for label in labels], np.float32)
    own = FirstPass(labels, np.zeros_like(shipped.first_pass.weights), bias)
    first = own.probabilities([UNSURE])[0]
    assert 0.5 < first.max() < SURE_AT
    learned = DepartmentModel.learned(shipped.head, None, "learned-4", own)
    plain = DepartmentModel(shipped.head, None, None, "plain", own)
    assert learned.blended and not plain.blended and not shipped.blended
    head = shipped.head.probabilities(shared_embedder().embed([UNSURE]))[0]
    mixed = np.sqrt(head * first)
    expected = dict(zip(labels, mixed / mixed.sum(), strict=True))
    (prediction,) = learned.predict([UNSURE])
    for suggestion in prediction.ranked:
        assert abs(suggestion.probability - expected[suggestion.department]) < 1e-4
    (alone,) = plain.predict([UNSURE])
    assert alone.top.department == labels[int(head.argmax())]
    assert abs(alone.top.probability - float(head.max())) < 1e-4


def test_the_sparse_product_is_the_dense_one() -> None:
    """``Sparse.times`` (a label at a time) equals the dense product, empty posts included."""
    texts = ["refund my double charge", "", "where is my parcel, tracking says delivered", "ok"]
    x = Sparse.of(texts)
    dense = np.zeros((x.rows, BUCKETS), dtype=np.float32)
    for r in range(x.rows):
        start, end = x.offsets[r], x.offsets[r + 1]
        dense[r, x.index[start:end]] = x.value[start:end]
    weights = np.random.default_rng(3).normal(size=(BUCKETS, 5)).astype(np.float32)
    assert np.allclose(x.times(weights), dense @ weights, atol=1e-4)
    assert not x.times(weights)[1].any()
