"""The plain tables of ``triagebot sla``: aligned in terminal columns, inert to hostile text,
styled only on a terminal."""

from __future__ import annotations

import io

from triagebot.reports.text_table import Terminal, TextTable, cell_width, clean, one_line


def test_columns_line_up_in_terminal_cells() -> None:
    table = TextTable("person", "cases", title="by person")
    table.add_row("ana", "3")
    table.add_row("王小明", "12")  # three wide characters: six columns
    table.add_row("José", "1")  # e and a combining acute accent
    title, header, *rows = table.lines()
    assert title == "by person"
    assert header == " person  cases"
    assert rows == [" ana     3", " 王小明  12", " José    1"]
    assert {cell_width(line[: line.rindex(" ") + 1]) for line in [header, *rows]} == {9}


def test_hostile_cells_cannot_drive_the_terminal() -> None:
    hostile = "evil\x1b[2J\x1b]8;;http://x\x07link\u202etxt.exe\u2028next\r\nrow"
    table = TextTable("who", title="t\x1b[31m")
    table.add_row(hostile)
    text = "\n".join(table.lines())
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\u2028" not in text and "\r" not in text and text.count("\n") == 2
    assert clean("tab\there") == "tab here"
    assert one_line("a\n\n b\x00c   d", 6) == "a bc d"
    assert one_line("a\n\n b\x00c   d", 5) == "a bc…"


def test_styles_only_on_a_terminal() -> None:
    table = TextTable("department", "cases")
    table.add_row("all", "9", bold=True)
    piped = io.StringIO()
    Terminal(piped).table(table)
    assert "\x1b" not in piped.getvalue()
    styled = io.StringIO()
    out = Terminal(styled, styled=True)
    out.table(table)
    out.print(out.bold("SLA\x1b[5m summary"))
    lines = styled.getvalue().splitlines()
    assert lines[0] == "\x1b[1m department  cases\x1b[0m"
    assert lines[1] == "\x1b[1m all         9\x1b[0m"
    assert lines[2] == "\x1b[1mSLA[5m summary\x1b[0m"
