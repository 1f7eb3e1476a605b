"""`dagster dev` as revenue ops start it (`make dagster`): the webserver on a loopback port with
the repository's dagster.yaml, asked through its GraphQL API what a user sees (asset groups,
jobs, schedules, sensors, checks, resources bound to environment variables); and two runs of
the writing job launched at once, which the run queue runs one after the other."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "advocacy_attribution"
SECRET = "pat-na1-secret-for-the-ui-test"
CONNECTION_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                       "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH", "DAGSTER_", "ALERT_WEBHOOK_URL")


class DagsterDev:
    def __init__(self, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.log = log

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy2(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONNECTION_PREFIXES)}
    env.update({"DAGSTER_HOME": str(home), "DUCKDB_PATH": str(home / "warehouse.duckdb"),
                "HUBSPOT_ACCESS_TOKEN": SECRET,   # set, so the UI must show it bound, not its value
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])})
    port = _free_port()
    log = home / "dagster_dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = DagsterDev(port, log)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                entries = server.query(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                    "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
                (entry,) = entries["workspaceOrError"]["locationEntries"]
                if entry["loadStatus"] == "LOADED":
                    kind = entry["locationOrLoadError"]["__typename"]
                    assert kind == "RepositoryLocation", entry
                    break
            except (OSError, ValueError):
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.mark.slow
def test_the_ui_shows_groups_jobs_schedules_sensors_checks_and_env_var_resources(
        dagster_dev: DagsterDev) -> None:
    data = dagster_dev.query("""{
      repositoriesOrError { ... on RepositoryConnection { nodes {
        name
        jobs { name }
        schedules { name cronSchedule scheduleState { status } }
        sensors { name sensorState { status } }
        assetGroups { groupName }
      } } }
      assetNodes { assetKey { path } groupName owners { ... on TeamAssetOwner { team } }
                   assetChecksOrError { ... on AssetChecks { checks { name } } } }
    }""")
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {g["groupName"] for g in repo["assetGroups"]} >= {
        "raw_hubspot", "raw_salesforce", "raw_ga4", "raw_advocacy_platform", "config",
        "staging", "intermediate", "marts"}
    assert "nightly" in {j["name"] for j in repo["jobs"]}
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert schedules["nightly_schedule"]["scheduleState"]["status"] == "RUNNING"
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    for name in ("alert_on_run_failure", "alert_on_failed_checks", "freshness_checks_sensor"):
        assert sensors[name] == "RUNNING", sensors
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    mart = nodes["marts/funnel_by_segment"]
    assert mart["groupName"] == "marts" and {"team": "revenue-ops"} in mart["owners"]
    checks = {c["name"] for c in mart["assetChecksOrError"]["checks"]}
    assert {"freshness_check", "assert_segments_add_up", "assert_stages_monotone"} <= checks
    raw_checks = {c["name"] for c in nodes["hubspot/contacts"]["assetChecksOrError"]["checks"]}
    assert {"freshness_check", "no_quarantined_rows"} <= raw_checks

    resource = dagster_dev.query("""query($s: ResourceSelector!) {
      topLevelResourceDetailsOrError(resourceSelector: $s) {
        ... on ResourceDetails { configuredValues { key value type } } } }""",
        {"s": {"repositoryLocationName": LOCATION, "repositoryName": repo["name"],
               "resourceName": "hubspot"}})
    values = {v["key"]: v for v in resource["topLevelResourceDetailsOrError"]["configuredValues"]}
    assert values["access_token"]["type"] == "ENV_VAR"
    assert values["access_token"]["value"] == "HUBSPOT_ACCESS_TOKEN"
    assert SECRET not in json.dumps(resource)


LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""


@pytest.mark.slow
def test_two_runs_of_the_writing_job_launched_at_once_run_one_after_the_other(
        dagster_dev: DagsterDev) -> None:
    (repo,) = dagster_dev.query("{ repositoriesOrError { ... on RepositoryConnection { "
                                "nodes { name } } } }")["repositoriesOrError"]["nodes"]
    partition = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))   # GA4's latest day
    params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": repo["name"],
                           "jobName": "nightly",
                           # the advocacy exports' sync: quick, and it writes the warehouse
                           "assetSelection": [{"path": ["advocacy_platform", "posts"]}]},
              "runConfigData": {},
              "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]}}
    run_ids = []
    for _ in range(2):
        launched = dagster_dev.query(LAUNCH, {"p": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_ids.append(launched["run"]["runId"])

    deadline = time.monotonic() + 400
    while True:
        runs = dagster_dev.query(
            "query($ids: [String!]) { runsOrError(filter: {runIds: $ids}) { ... on Runs { "
            "results { runId status startTime endTime } } } }", {"ids": run_ids}
        )["runsOrError"]["results"]
        if all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            break
        assert time.monotonic() < deadline, (runs, dagster_dev.log.read_text()[-3000:])
        time.sleep(2)
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"], dagster_dev.log.read_text()[-3000:]
    first, second = sorted(runs, key=lambda r: r["startTime"])
    assert first["endTime"] <= second["startTime"], runs     # queued, never side by side
