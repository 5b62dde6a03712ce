"""`--runtime onnx|onnx-int8` through the CLI: vectors stored under the runtime's model id, searchable."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.core.settings import load_settings
from fashionlens.store.catalog import Catalog

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_int8_runtime_end_to_end(shared_data: Path) -> None:
    products = shared_data / "products"
    assert invoke("ingest", "products", str(products), "--limit", "24").exit_code == 0
    fp32 = invoke("--runtime", "onnx", "embed")
    assert fp32.exit_code == 0, fp32.output
    assert "embedded 24 images with mobilenet_v2.imagenet " in fp32.output
    int8 = invoke("--runtime", "onnx-int8", "embed")
    assert int8.exit_code == 0, int8.output
    assert "embedded 24 images with mobilenet_v2.imagenet+onnx-int8" in int8.output
    catalog = Catalog(load_settings().db_path)
    assert set(catalog.embedding_models()) == {"mobilenet_v2.imagenet", "mobilenet_v2.imagenet+onnx-int8"}
    query = next(iter(sorted((products / "images").glob("*.jpg"))))
    hits = invoke("--runtime", "onnx-int8", "search", str(query), "--k", "3", "--json")
    assert hits.exit_code == 0, hits.output
    assert hits.output.count('"query"') == 3


def test_bad_runtime_is_one_clear_line() -> None:
    result = invoke("--runtime", "tensorrt", "embed")
    assert result.exit_code != 0
    assert "runtime must be one of auto, torch, onnx, onnx-int8" in result.output


def test_engine_ray_says_which_commands_it_runs(tmp_path) -> None:
    from typer.testing import CliRunner

    from fashionlens.cli.app import app

    runner = CliRunner()
    done = runner.invoke(app, ["--home", str(tmp_path), "--engine", "ray", "info"])
    assert "--engine ray runs embed and segment; `info` runs on this machine" in done.output
    quiet = runner.invoke(app, ["--home", str(tmp_path), "--engine", "local", "info"])
    assert "runs on this machine" not in quiet.output
