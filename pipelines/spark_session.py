"""Spark for the dbt project's ``spark`` target (dbt_project/README.md "Spark, step by step").

A pyspark session configured exactly as dbt's ``spark`` target (dbt_project/profiles.yml:
its server_side_parameters, rendered with the same environment), so that what this process
writes (the raw layer) is what a later ``dbt build --target spark`` finds: the same warehouse
directory, the same Derby metastore. Derby allows one process at a time: stop the session
(``session.stop()`` and the JVM with it) before dbt starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jinja2
import yaml

PROFILES = Path(__file__).resolve().parents[1] / "dbt_project" / "profiles.yml"


def spark_parameters(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    output = yaml.safe_load(PROFILES.read_text())["advocacy"]["outputs"]["spark"]
    return {str(k): jinja2.Template(str(v)).render(
        env_var=lambda name, default=None: env.get(name, default))
        for k, v in output["server_side_parameters"].items()}


def spark_session(env: dict[str, str] | None = None):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_parameters(env).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def main(argv: list[str]) -> int:
    """``python -m pipelines.spark_session copy RAW.duckdb``: the raw layer into the Spark
    warehouse of the environment's SPARK_* variables, in a process of its own (Derby: the
    metastore is free again when it exits); prints the row counts as JSON."""
    import json

    from connectors.warehouse_copy import copy_raw_to_spark

    if len(argv) != 2 or argv[0] != "copy":
        print("usage: python -m pipelines.spark_session copy RAW.duckdb", file=sys.stderr)
        return 2
    raw = argv[1]
    session = spark_session()
    try:
        print(json.dumps(copy_raw_to_spark(Path(raw), session)))
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
