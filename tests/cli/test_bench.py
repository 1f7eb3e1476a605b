"""``advocacy bench`` at a tiny scale: it measures, counts requests against the minimum and
writes its figures between the markers of the performance document."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipelines.cli import bench
from pipelines.cli.bench import identity as bench_identity


def test_request_classifiers() -> None:
    search = json.dumps({"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
                         "limit": 1}).encode()
    page = json.dumps({"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                       "limit": 200}).encode()
    assert bench.classify_hubspot("POST", "/crm/v3/objects/contacts/search", {}, search) == \
        ("overhead", "snapshot search")
    assert bench.classify_hubspot("POST", "/crm/v3/objects/contacts/search", {}, page) == ("data", "search")
    assert bench.classify_hubspot("GET", "/crm/v3/objects/deals", {"archived": ["true"]}, b"") == \
        ("data", "archived list")
    sf = bench.classify_salesforce
    assert sf("GET", "/services/data/v59.0/queryAll/", {"q": ["SELECT COUNT() FROM Lead"]}, b"") == \
        ("overhead", "count")
    assert sf("GET", "/services/data/v59.0/queryAll/", {"q": ["SELECT Id FROM Lead"]}, b"") == ("data", "query")
    assert sf("GET", "/services/data/v59.0/query/01gX-2000", {}, b"") == ("data", "query more")
    assert sf("GET", "/services/data/v59.0/jobs/query/750X/results", {}, b"") == ("data", "bulk results")
    assert sf("GET", "/services/data/v59.0/sobjects/Lead/describe", {}, b"") == ("overhead", "describe")
    probe = json.dumps({"dimensions": [{"name": "date"}]}).encode()
    report = json.dumps({"dimensions": [{"name": "date"}, {"name": "sessionSource"}]}).encode()
    assert bench.classify_ga4("POST", "/v1beta/properties/1:runReport", {}, probe) == ("overhead", "probe")
    assert bench.classify_ga4("POST", "/v1beta/properties/1:runReport", {}, report) == ("data", "report")


def test_full_minimum_counts_pages_at_the_api_maximum() -> None:
    h = {
        "hubspot": {"contacts": {"live": 201, "archived": 0}, "companies": {"live": 100, "archived": 1},
                    "deals": {"live": 1001, "archived": 0}, "owners": {"live": 5, "archived": 0}},
        "salesforce": {"Lead": {"records": 4001}, "LeadHistory": {"records": 120_000},
                       "Period": {"records": 0}, "CurrencyType": {"records": 3}},
        "ga4": {"data_days": ["20260101", "20260102"], "dates": 2,
                "visitor_rows": {"20260101": 10, "20260102": 250_001},
                "traffic_rows": {"20260101": 5, "20260102": 7}},
    }
    m = bench.full_minimum(h, described={"Lead", "LeadHistory", "Period"})
    # contacts 3+1, companies 1+1, deals 11+1, owners 1+1, pipelines 1, associations 2
    assert m["hubspot"]["minimum"] == 4 + 2 + 12 + 2 + 1 + 2
    assert m["hubspot"]["fixed"] == 0
    # Lead: 3 REST pages or a Bulk job (create + 1 result page): Bulk; LeadHistory by Bulk:
    # create + 3 result pages; Period still costs one query; CurrencyType does not exist in
    # this org. Fixed: the token and one Composite Batch of describes, and the 2 job creates
    assert m["salesforce"]["data_minimum"] == 1 + 3 + 1
    assert m["salesforce"]["fixed"] == 1 + 1 + 2
    assert m["salesforce"]["minimum"] == 5 + 4
    assert m["salesforce"]["detail"]["Lead"] == {"pages": 1, "bulk": True}
    # one probe that says which dates hold sessions, the per-visitor report's pages per date
    # and one traffic request for the month
    assert m["ga4"]["minimum"] == 1 + (1 + 2) + 1


def test_salesforce_minimum_takes_the_cheaper_api() -> None:
    m = bench.salesforce_minimum({"A": 4000, "B": 4001, "C": 0, "D": 100_001}, None)
    assert m == {"A": (2, 0), "B": (1, 1), "C": (1, 0), "D": (3, 1)}   # (pages, Bulk jobs)


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path) -> None:
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Performance\n\nprose before\n\n{bench.START}\nold figures\n{bench.END}\n\nprose after\n")
    out = tmp_path / "bench.json"
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--scales", "0.03", "--sources", "hubspot,salesforce,advocacy_platform",
                              "--write", "--out", str(doc), "--json", str(out),
                              "--workdir", str(tmp_path / "work"), "--no-identity-stress"])
    assert bench.run(args) == 0

    data = json.loads(out.read_text())["runs"][-1]     # the file gathers a day's runs
    assert data["command"].startswith("advocacy bench --scales 0.03") and data["load_average"]
    (result,) = data["results"]
    # ours against the naive official client and the wire, same run, same records
    peers = {p["source"]: p for p in result["peers"]}
    assert set(peers) == {"hubspot", "salesforce"}
    for p in peers.values():
        assert p["naive"]["code"] == p["wire"]["code"] == 0, p
        assert p["naive"]["records"] == p["wire"]["records"] > 0, p
        assert p["ours_over_wire"] > 0 and p["ours_over_naive"] > 0, p
    full = {row["source"]: row for row in result["full"]}
    for source in ("hubspot", "salesforce"):
        row = full[source]
        assert row["code"] == 0 and row["records"] > 0
        assert row["requests"] == row["served"] == row["data"] + row["overhead"]
        # every request of a clean full sync is needed: paging at the APIs' maximum, no
        # snapshot search, no status poll, no count request
        assert row["data"] == row["data_minimum"], (source, row)
        assert row["requests"] == row["minimum"], (source, row)
        assert 50 < row["peak_rss_mb"] < 2_000
    assert full["advocacy_platform"]["records"] > 0
    # the dbt step: a clean build (own target and log folders) over what was synced
    assert result["dbt"]["code"] == 0 and "ERROR=0" in result["dbt"]["summary"], result["dbt"]
    # the identity models' time and rows of that build
    ident = result["identity"]
    assert ident["records"] > ident["people"] > 0 and set(ident["models"]) == set(bench_identity.MODELS)
    assert "**Identity stitching**" in doc.read_text()
    incremental = {row["source"]: row for row in result["incremental"]}
    inc = incremental["hubspot"]
    # an incremental run reads what changed (search), plus the lists every run must read:
    # no live list page, no more data requests than that minimum, fewer records than a full
    assert "list" not in inc["kinds"] and inc["kinds"].get("search", 0) >= 1, inc["kinds"]
    assert inc["data"] <= inc["minimum"], inc
    assert inc["records"] < full["hubspot"]["records"]

    text = doc.read_text()
    assert "old figures" not in text
    assert text.startswith("# Performance\n\nprose before") and text.rstrip().endswith("prose after")
    assert "| 0.03 | hubspot |" in text and "requests / min" in text
    assert "**ours / wire**" in text


@pytest.mark.slow
def test_identity_stress_groups_a_chain_into_one_person(tmp_path: Path) -> None:
    """The identity models alone on a synthetic raw layer (small here; make bench: a 30k group
    and 500k records): a chain of contact -> lead (id) -> next contact (email) is one person."""
    rows = bench_identity.stress(tmp_path, (("chain", 2_000, True),))
    (chain,) = rows
    assert chain["code"] == 0 and (chain["records"], chain["people"], chain["largest_group"]) == (2_000, 1, 2_000)
    assert chain["edges"] == 2_000 - 1 and chain["union_find_seconds"] is not None
    assert "| chain | 2,000 |" in "\n".join(bench_identity.render([], rows))


@pytest.mark.slow
def test_peers_read_what_the_connectors_read(sandbox: object, sandbox_env: dict[str, str],
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's contenders against the session sandbox: the naive official client and the
    bare HTTP loop read the same records, and the naive one writes every one of them."""
    import duckdb

    from pipelines.cli.bench import peers

    for k, v in sandbox_env.items():
        monkeypatch.setenv(k, v)
    for source in peers.SOURCES:
        wire = peers.run("wire", source)
        naive_wh = tmp_path / f"naive-{source}.duckdb"
        naive = peers.run("naive", source, str(naive_wh))
        assert wire == naive > 0, (source, wire, naive)
        with duckdb.connect(str(naive_wh), read_only=True) as db:
            tables = [t for (t,) in db.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            written = sum(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        assert written == naive, (source, written, naive)
