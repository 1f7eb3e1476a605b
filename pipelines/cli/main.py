"""The ``advocacy`` console script.

Each sub-command lives in its own module and registers its arguments through a
``add_arguments(parser)`` / ``run(args) -> int`` pair, imported lazily so that
``advocacy --help`` stays fast and a broken optional part never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# sub-command path -> (module, help)
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("sandbox", "generate"): ("connectors.sandbox.commands.generate", "generate a sandbox world into a store file"),
    ("sandbox", "serve"): ("connectors.sandbox.commands.serve", "serve the sandbox world through local fakes of the three APIs"),
    ("sandbox", "truth"): ("connectors.sandbox.commands.truth", "write the sandbox world's truth file (JSON)"),
    ("check",): ("pipelines.cli.check", "validate the settings and check credentials, permissions, custom fields, the GA4 dimension and the warehouse, one line per finding with its fix"),
    ("sync",): ("pipelines.cli.sync", "sync the configured sources into the DuckDB raw layer (DUCKDB_PATH)"),
    ("report",): ("pipelines.cli.report", "write the HTML attribution report (and its CSVs) from the marts; --publish for BI tools"),
    ("demo",): ("pipelines.cli.demo", "the whole product on a simulated company: generate, serve through local fakes, sync and build with Dagster, print the headline tables"),
    ("plan-experiment",): ("pipelines.cli.plan_experiment", "the minimum detectable lift in the SQL rate of an account holdout or a staggered roll-out by team, from the warehouse's history, and a seeded assignment list"),
    ("stats",): ("pipelines.cli.stats", "compute the p-values after a dbt build on an adapter without dbt Python models (Postgres, Spark) and rebuild their marts"),
    ("bench",): ("pipelines.cli.bench", "measure requests, time and memory of sync and build at several scales (docs/PERFORMANCE.md)"),
}

GROUPS = {"sandbox": "the simulated company and its local fakes of HubSpot, Salesforce and GA4 "
                     "(generate, serve, truth)"}


def _chosen(argv: list[str] | None) -> tuple[str, ...] | None:
    """The command ``argv`` names (its first words that are not options), or None when it
    names none: then every command's module is imported (``advocacy --help`` lists them)."""
    if argv is None:
        return None
    words = [a for a in argv if not a.startswith("-")][:2]
    for path in COMMANDS:
        if tuple(words[:len(path)]) == path:
            return path
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv``, only the command it names gets its module imported and its
    arguments: `advocacy sync` need not import the report, the bench and dbt's helpers
    (0.7 s of CPU at every start, docs/PERFORMANCE.md)."""
    chosen = _chosen(argv)
    parser = argparse.ArgumentParser(
        prog="advocacy",
        description="Employee-advocacy attribution: GA4 + HubSpot + Salesforce + advocacy-"
                    "platform exports -> DuckDB -> dbt marts.",
        epilog="Try it without credentials: `advocacy demo`. With your accounts: copy "
               ".env.example to .env, fill it in, then `advocacy check` and `advocacy sync`. "
               "`advocacy COMMAND --help` describes each command's options.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print debug details on stderr too: every log record, the traceback "
                             "of a failure (secrets stay redacted)")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (module_name, help_text) in COMMANDS.items():
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                group_parser = top.add_parser(path[0], help=GROUPS[path[0]],
                                              description=GROUPS[path[0]])
                groups[path[0]] = group_parser.add_subparsers(
                    dest=f"{path[0]}_command", metavar="COMMAND", required=True
                )
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        if chosen is not None and path != chosen:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                sub.set_defaults(_missing=True)
                continue
            raise
        module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # urllib3 logs each of its own connection retries (with the whole URL); ours are
        # logged once per attempt by connectors.retry, and the failure line says the rest
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    if getattr(args, "_missing", False):
        print(f"advocacy: this command is not available in this build ({args._module})", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
