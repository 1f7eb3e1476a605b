"""What the Dagster UI shows about checks and sensors: every one says what it guards."""

from __future__ import annotations


def test_every_check_and_sensor_has_a_description():
    from pipelines.definitions import defs
    from pipelines.transform import dbt_models

    specs = list(dbt_models.check_specs)
    assert len(specs) > 200
    assert [s.name for s in specs if not s.description] == []
    by_name = {s.name: s.description for s in specs}
    assert by_name["unique_run_manifest_run_id"] == (
        "dbt test: every run_manifest.run_id is unique. A failure fails the run.")
    # source tests are checks of the ingestion assets, singular tests of the mart they guard
    keys = {s.name: s.asset_key.path for s in specs}
    assert keys["source_unique_hubspot_contacts_id"] == ["hubspot", "contacts"]
    assert keys["assert_segments_add_up"][-1] == "funnel_by_segment"
    assert by_name["assert_segments_add_up"].startswith("Segments add up to the whole")
    assert all(sensor.description for sensor in defs.sensors)


def test_the_dbt_docs_home_page_describes_the_project():
    import json

    from pipelines.transform import dbt_project  # parses the project when its manifest is stale

    docs = json.loads(dbt_project.manifest_path.read_text())["docs"]
    overview = docs["doc.advocacy_attribution.__overview__"]["block_contents"]
    assert overview.startswith("# Advocacy attribution")
    assert "funnel_by_segment" in overview and "docs/DEFINITIONS.md" in overview
