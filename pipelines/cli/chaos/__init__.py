"""``python -m pipelines.cli.chaos`` (``make chaos``): nightly syncs under random faults and
SIGKILLs with the world advancing, each night compared with a clean run (docs/RELIABILITY.md)."""
