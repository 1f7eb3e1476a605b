"""The shared value rules (connectors/values.py) and the writer's backstop for every source:
a value its column cannot hold quarantines the record, never the batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.schema import Table
from connectors.values import clean_text, parse_money
from connectors.warehouse import Warehouse


@pytest.mark.parametrize(("value", "expected"), [
    ("1,234.50", Decimal("1234.50")), ("$1234", Decimal("1234.00")), (36900.0, Decimal("36900.00")),
    ("-0", Decimal("0.00")), ("", None), (None, None), ("\u200b 7 ", Decimal("7.00")),
])
def test_money_is_parsed_by_one_rule(value, expected):
    assert parse_money(value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("NaN", "not a finite number"), ("Infinity", "not a finite number"), ("1e20", "out of range"),
    (1e13, "out of range"), ("12,34", "not a number"), (True, "not a number"),
])
def test_money_that_is_no_amount_raises_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_money(value)


def test_lone_surrogates_become_replacement_characters():
    assert clean_text("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert clean_text("Zoë 😀") == "Zoë 😀"


def test_the_writer_quarantines_what_a_column_cannot_hold_and_repairs_text(tmp_path):
    table = Table("demo", "t", ("id",), {"id": "VARCHAR", "amount": "DECIMAL(18,2)",
                                          "n": "BIGINT", "name": "VARCHAR"})
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_table(table)
        n = wh.upsert(table, [
            {"id": "ok", "amount": Decimal("1.50"), "n": 1, "name": "Ann"},
            {"id": "big", "amount": Decimal("1e17"), "n": 1, "name": "B"},
            {"id": "nan", "amount": float("nan"), "n": 1, "name": "C"},
            {"id": "huge", "amount": Decimal(1), "n": 2**63, "name": "D"},
            {"id": "text", "amount": None, "n": None, "name": "Zo\ud83d"},
        ])
        assert n == 2
        assert wh.conn.execute("SELECT id, name FROM demo.t ORDER BY id").fetchall() == [
            ("ok", "Ann"), ("text", "Zo\ufffd")]
        assert wh.conn.execute("SELECT record_id, reason FROM demo._quarantine ORDER BY 1").fetchall() == [
            ("big", "amount: Decimal('1E+17') out of range for DECIMAL(18,2)"),
            ("huge", "n: 9223372036854775808 out of range for BIGINT"),
            ("nan", "amount: not a finite number nan for DECIMAL(18,2)")]
        assert wh.conn.execute("SELECT record_id, reason FROM demo._repaired").fetchall() == [
            ("text", "invalid UTF-8 (lone surrogate) replaced in name")]
