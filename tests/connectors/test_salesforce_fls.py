"""Fields hidden by field-level security: Salesforce leaves them out of describe (and rejects
them in SOQL), so a sync would store every amount as null and every currency as the corporate
one without a word. The sandbox hides ``Opportunity.Amount`` and ``CurrencyIsoCode`` (meta key
``hidden_fields``); the sync records them, `advocacy check` fails naming them and the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "sandbox"))
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from fake_world_helpers import set_meta  # noqa: E402
from test_check_command import run_check  # noqa: E402

from connectors.salesforce import SalesforceSource  # noqa: E402
from connectors.source import Settings  # noqa: E402
from connectors.warehouse import Warehouse  # noqa: E402

pytestmark = pytest.mark.slow
HIDDEN = ["Opportunity.Amount", "Opportunity.CurrencyIsoCode"]


def test_fields_hidden_by_field_level_security_are_reported(fresh_sandbox, tmp_path):
    sandbox = fresh_sandbox()
    set_meta(sandbox.store_path, "hidden_fields", HIDDEN)
    env = {**sandbox.env(), "DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    with Warehouse(tmp_path / "w.duckdb") as wh:
        SalesforceSource(Settings(env), wh).sync(objects=["Lead", "Opportunity"])
        hidden = wh.conn.execute("SELECT object, field FROM salesforce._hidden_fields "
                                 "ORDER BY 1, 2").fetchall()
        assert wh.conn.execute("SELECT count(*) FROM salesforce.opportunity").fetchone()[0] > 0
    assert hidden == [("Opportunity", "Amount"), ("Opportunity", "CurrencyIsoCode")]
    proc = run_check(env, tmp_path, "--source", "salesforce")
    assert proc.returncode != 0, proc.stdout
    (line,) = [x for x in proc.stdout.splitlines() if "field-level security" in x]
    assert line.startswith("[FAIL] salesforce: Opportunity: Amount, CurrencyIsoCode hidden"), line
    assert "Set Field-Level Security" in proc.stdout


def test_nothing_hidden_in_the_plain_sandbox(sandbox_env, tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        SalesforceSource(Settings(sandbox_env), wh).sync(objects=["Lead", "Opportunity"])
        assert wh.conn.execute("SELECT count(*) FROM salesforce._hidden_fields").fetchone() == (0,)
