"""Shared fixtures. The slow ones are session-scoped: one small world, one sandbox, one
pipeline run, shared by every end-to-end test so that ``make test`` stays within minutes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.sandbox.config import WorldConfig

# The world every slow test shares: small enough to build in seconds, big enough that every
# segment, quarter, currency and deletion kind occurs.
TEST_SEED = 11
TEST_SCALE = float(os.environ.get("ADVOCACY_TEST_SCALE", "0.1"))


@pytest.fixture(scope="session")
def world_config() -> WorldConfig:
    return WorldConfig(seed=TEST_SEED, scale=TEST_SCALE)


@pytest.fixture(scope="session")
def world_store(tmp_path_factory: pytest.TempPathFactory, world_config: WorldConfig) -> Path:
    """A generated world store (SQLite), never modified by tests: copy it to advance it."""
    from connectors.sandbox.world import generate

    path = tmp_path_factory.mktemp("world") / "world.sqlite"
    generate(path, world_config)
    return path
