"""The CSV export keeps one record per case whatever the cells hold, and runs no formula.

A carriage return inside a mention id, URL or source used to end the record early
(``csv.writer`` with ``"\\n"`` as the line end leaves a bare CR unquoted), so a spreadsheet saw
a new row starting with the attacker's ``=cmd|' /C calc'!A0``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

import pytest

from tests.sla_helpers import make_case, ny
from triagebot.config.settings import Settings
from triagebot.sla.export import COLUMNS, export_rows, read_export, write_export

NOW = ny(17, 12)
PAYLOAD = "=cmd|' /C calc'!A0"


def exported(settings: Settings, **mention_fields: Any) -> tuple[str, list[dict[str, object]]]:
    case = make_case(settings, "1", ny(17, 9))
    case = replace(case, mention=replace(case.mention, **mention_fields))
    rows = list(export_rows([case], settings.calendar_for, NOW))
    out = io.StringIO()
    assert write_export(rows, "csv", out) == 1
    return out.getvalue(), rows


@pytest.mark.parametrize("field", ["id", "url", "source"])
@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n"])
def test_a_line_break_in_a_cell_never_splits_the_record(
    settings: Settings, field: str, breaker: str
) -> None:
    value = {"id": "x:1", "url": "https://example.org/1", "source": "x"}[field]
    text, rows = exported(settings, **{field: value + breaker + PAYLOAD})
    # Split the way a spreadsheet does: a line end outside quotes ends the record.
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == 2  # the header and the one case
    assert all(len(record) == len(COLUMNS) for record in records)
    assert not any(cell.startswith("=") for record in records for cell in record)
    assert read_export(io.StringIO(text, newline=""), "csv") == rows


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n", "'"])
def test_a_cell_that_would_run_as_a_formula_gets_an_apostrophe(
    settings: Settings, start: str
) -> None:
    text, rows = exported(settings, source=start + "SUM(A1:A9)")
    (record,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert record["source"] == "'" + start + "SUM(A1:A9)"
    assert read_export(io.StringIO(text, newline=""), "csv") == rows


def test_commas_and_quotes_are_quoted_and_plain_cells_are_not(settings: Settings) -> None:
    text, rows = exported(settings, url='https://example.org/a,b"c')
    assert '"https://example.org/a,b""c"' in text
    assert ",https://example.test/" not in text  # sanity: the URL was replaced
    assert ",reddit," in text  # a plain cell stays unquoted
    assert text.endswith("\n") and not text.endswith("\r\n")
    assert read_export(io.StringIO(text, newline=""), "csv") == rows


def test_unknown_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="not export columns: surprise"):
        write_export([{"surprise": 1}], "csv", io.StringIO())
