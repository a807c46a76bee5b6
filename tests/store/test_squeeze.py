"""Active case documents compressed with the store's dictionary."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.store.builders import make_case
from triagebot.store._squeeze import DICTIONARY_V1, squeeze, unsqueeze


def _docs() -> list[bytes]:
    texts = [
        "My parcel never arrived and nobody answers the phone",
        "¿Dónde está mi pedido? Llevo 3 semanas esperando 😡 #envío",
        "配達がまだ来ません。注文番号 12345",
        'quotes " and \\ backslashes \u2028 and a lone \ud800 surrogate',
        "",
        "x" * 5000,
    ]
    docs = []
    for n, text in enumerate(texts):
        case = make_case(str(n)).to_dict()
        case["mention"]["text"] = text
        docs.append(json.dumps(case, separators=(",", ":")).encode())
    return docs


@pytest.mark.parametrize("doc", _docs())
def test_a_document_comes_back_byte_for_byte(doc: bytes) -> None:
    squeezed = squeeze(doc)
    assert squeezed[:1] == b"\x01"
    assert unsqueeze(squeezed) == doc


def test_a_typical_case_keeps_a_fraction_of_its_size() -> None:
    doc = _docs()[0]
    assert len(squeeze(doc)) < len(doc) / 3


def test_plain_json_is_read_as_it_is() -> None:
    doc = _docs()[1]
    assert unsqueeze(doc) is doc


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s[: len(s) // 2],  # cut short
        lambda s: s[:1] + bytes(b ^ 0xFF for b in s[1:]),  # scrambled
        lambda s: b"\x02" + s[1:],  # a dictionary this version does not know
        lambda s: b"",
    ],
)
def test_damaged_documents_raise_value_error(damage: object) -> None:
    squeezed = squeeze(_docs()[0])
    with pytest.raises(ValueError, match="case document"):
        unsqueeze(damage(squeezed))  # type: ignore[operator]


def test_the_dictionary_is_the_one_snapshots_were_written_with() -> None:
    """Snapshots hold documents compressed with it: a changed dictionary would make every
    stored case unreadable (a new one needs a new number)."""
    assert hashlib.sha256(DICTIONARY_V1).hexdigest()[:16] == "b7f825529b03ffb2"
