"""Picking an engine from the settings, and the Ray engine's options, without starting Ray."""

from __future__ import annotations

import functools

import pytest

from fashionlens import engines
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings, load_settings
from fashionlens.engines.local import run_stage
from fashionlens.engines.ray import RayOptions, _block_rows


def test_local_is_the_default_engine() -> None:
    assert Settings().engine == "local"
    assert engines.runner(Settings()) is run_stage


def test_engine_and_ray_address_come_from_env_and_flags() -> None:
    env = {"FASHIONLENS_ENGINE": "ray", "FASHIONLENS_RAY_ADDRESS": "10.0.0.5:6379"}
    settings = load_settings(env=env)
    assert (settings.engine, settings.ray_address) == ("ray", "10.0.0.5:6379")
    assert load_settings({"engine": "local"}, env=env).engine == "local"  # a flag wins


def test_ray_engine_carries_the_address() -> None:
    pytest.importorskip("ray")
    run = engines.runner(Settings(engine="ray", ray_address="ray://head:10001"))
    assert isinstance(run, functools.partial) and run.keywords == {"address": "ray://head:10001"}


@pytest.mark.parametrize("engine", ["spark", "", "Ray"])
def test_unknown_engine_is_refused(engine: str) -> None:
    with pytest.raises(InvalidInputError, match="engine must be one of local, ray"):
        Settings(engine=engine)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_actors": 0}, {"cpus_per_actor": 0}, {"threads_per_actor": 0}, {"max_restarts": -1},
     {"batches_per_block": 0}],
)  # fmt: skip
def test_bad_ray_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        RayOptions(**kwargs)


@pytest.mark.parametrize(
    ("rows", "batch", "actors", "expected"),
    [
        (100, 32, 2, 32),  # few batches: one per block
        (10_000, 32, 2, 32 * 16),  # many: capped at 16 batches per block
        (3_200, 32, 2, 32 * 12),  # ~4 blocks per actor
        (5, 32, 8, 32),
    ],
)
def test_blocks_spread_work_over_the_actors(rows: int, batch: int, actors: int, expected: int) -> None:
    assert _block_rows(rows, batch, actors, RayOptions()) == expected
    assert _block_rows(rows, batch, actors, RayOptions(batches_per_block=2)) == 2 * batch
