"""Server configuration: defaults, FASHIONLENS_SERVE_* and FASHIONLENS_API_KEY, bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.server.config import ServerConfig


def test_defaults_bind_localhost_no_key_no_cors_batch_by_device() -> None:
    cfg = ServerConfig.from_env({})
    assert cfg.host == "127.0.0.1"
    assert cfg.api_key is None and cfg.cors_origins == ()
    assert (cfg.batch_size("cpu"), cfg.batch_size("cuda:0"), cfg.max_wait_ms) == (1, 16, 10.0)
    assert ServerConfig(max_batch=8).batch_size("cpu") == 8


def test_environment_and_overrides() -> None:
    env = {
        "FASHIONLENS_API_KEY": "s3cret",
        "FASHIONLENS_SERVE_MAX_BATCH": "1",
        "FASHIONLENS_SERVE_CORS_ORIGINS": "http://a.test, http://b.test",
        "FASHIONLENS_SERVE_MODELS": "backbone,attributes",
        "FASHIONLENS_SERVE_MASKRCNN_CHECKPOINT": "/ckpt.pt",
        "FASHIONLENS_SERVE_LOAD_IN_BACKGROUND": "no",
    }
    cfg = ServerConfig.from_env(env, max_wait_ms=2.5, port=None)
    assert cfg.api_key == "s3cret"
    assert cfg.batch_size("cuda") == 1
    assert cfg.cors_origins == ("http://a.test", "http://b.test")
    assert cfg.models == ("backbone", "attributes")
    assert cfg.maskrcnn_checkpoint == Path("/ckpt.pt")
    assert cfg.load_in_background is False
    assert cfg.max_wait_ms == 2.5 and cfg.port == 8000


@pytest.mark.parametrize(
    "kwargs",
    [{"max_batch": -1}, {"max_wait_ms": -1}, {"batch_workers": 0}, {"forward_batch": 0},
     {"max_upload_bytes": 0}, {"request_timeout_s": 0}, {"models": ("backbone", "gpt")},
     {"models": ("attributes",)}, {"api_key": "  "}, {"torch_threads": -1}],
)  # fmt: skip
def test_bad_values_fail_loudly(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        ServerConfig(**kwargs)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(InvalidInputError, match="FASHIONLENS_SERVE_MAX_BATCH"):
        ServerConfig.from_env({"FASHIONLENS_SERVE_MAX_BATCH": "many"})
