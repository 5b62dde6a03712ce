from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import DEFAULT_BACKBONE, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={"FASHIONLENS_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.backbone == DEFAULT_BACKBONE
    assert s.db_path == tmp_path / "db"


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('backbone = "resnet50.imagenet"\nbatch_size = 8\n')
    env = {"FASHIONLENS_HOME": str(tmp_path)}
    assert load_settings(env=env).backbone == "resnet50.imagenet"
    assert load_settings(env=env).batch_size == 8
    env["FASHIONLENS_BATCH_SIZE"] = "16"
    assert load_settings(env=env).batch_size == 16
    s = load_settings({"batch_size": 4}, env=env)
    assert (s.batch_size, s.backbone) == (4, "resnet50.imagenet")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FASHIONLENS_BATCH_SIZE": "many"}, "batch_size: expected int"),
        ({"FASHIONLENS_BATCH_SIZE": "0"}, "batch_size must be >= 1"),
        ({"FASHIONLENS_SKIP_FAILURES": "maybe"}, "skip_failures: expected bool"),
        ({"FASHIONLENS_DEVICE": "tpu"}, "device must be"),
    ],
)
def test_invalid_values_fail_loudly(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_settings(env={"FASHIONLENS_HOME": str(tmp_path), **env})


def test_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("backbone = \n")
    with pytest.raises(InvalidInputError, match="not valid TOML"):
        load_settings(env={"FASHIONLENS_HOME": str(tmp_path)})
    (tmp_path / "config.toml").write_text("colour = 'red'\n")
    with pytest.raises(InvalidInputError, match="unknown setting 'colour'"):
        load_settings(env={"FASHIONLENS_HOME": str(tmp_path)})
    with pytest.raises(InvalidInputError, match="config file not found"):
        load_settings(env={"FASHIONLENS_CONFIG": str(tmp_path / "missing.toml")})
