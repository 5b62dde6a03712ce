"""Search building blocks: SQL filters, query lists, precision@k, distances, the CLI's default command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fashionlens.analysis.retrieval import precision_at_k
from fashionlens.cli.search import search_app
from fashionlens.core.errors import InvalidInputError
from fashionlens.render.heatmap import cosine_distances
from fashionlens.services.search import SearchFilters
from fashionlens.services.search_batch import read_queries
from fashionlens.store.schemas import search_table_name
from fashionlens.store.search_table import AnnConfig, sql_literal, where_clause


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, None),
        ({"source": "street"}, "source = 'street'"),
        ({"source": "street", "colour": None, "split": ""}, "source = 'street'"),
        ({"category": "top+bottom", "colour": "red"}, "category = 'top+bottom' AND colour = 'red'"),
        ({"colour": ["red", "pink"]}, "colour IN ('red', 'pink')"),
        ({"article_type": "Men's Shirts"}, "article_type = 'Men''s Shirts'"),
    ],
)
def test_where_clause(filters: dict, expected: str | None) -> None:
    assert where_clause(filters) == expected


def test_where_clause_refuses_unknown_columns_and_injection_stays_a_literal() -> None:
    with pytest.raises(InvalidInputError, match="cannot filter on 'vector'"):
        where_clause({"vector": "x"})
    assert sql_literal("x' OR '1'='1") == "'x'' OR ''1''=''1'"


def test_search_filters_validate_and_normalise() -> None:
    f = SearchFilters(source="street", category=" Dress ", colour="RED")
    assert f.where() == "source = 'street' AND category = 'dress' AND colour = 'red'"
    assert f.describe() == "source=street, category=dress, colour=red"
    assert SearchFilters().where() is None and SearchFilters().describe() == "no filters"
    with pytest.raises(InvalidInputError, match="source must be one of"):
        SearchFilters(source="catwalk")
    with pytest.raises(InvalidInputError, match="split must be one of"):
        SearchFilters(split="training")


def test_ann_config_validation() -> None:
    assert AnnConfig().partitions(7_000) == 1
    assert AnnConfig(index_type="IVF_PQ").partitions(10_000) == 100
    with pytest.raises(InvalidInputError, match="IVF_HNSW_SQ, IVF_PQ"):
        AnnConfig(index_type="HNSW")
    with pytest.raises(InvalidInputError, match="threshold"):
        AnnConfig(threshold=0)


def test_search_table_name() -> None:
    assert search_table_name("mobilenet_v2_minilm.products") == "search__mobilenet_v2_minilm_products"


def test_read_queries(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / "imgs" / name).write_bytes(b"x")
    assert [Path(q.text).name for q in read_queries(tmp_path / "imgs")] == ["a.png", "b.jpg"]
    listing = tmp_path / "q.txt"
    listing.write_text(
        "imgs/a.png\n\n# comment\nText: red floral dress\n0123456789abcdef\n", encoding="utf-8"
    )
    queries = read_queries(listing)
    assert queries[0].text == str(tmp_path / "imgs" / "a.png") and queries[0].kind == "image"
    assert (queries[1].text, queries[1].kind) == ("red floral dress", "text")
    assert (queries[2].text, queries[2].kind) == ("0123456789abcdef", "image")
    with pytest.raises(InvalidInputError, match="no such folder or query list"):
        read_queries(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="no image files"):
        read_queries(tmp_path / "empty")


def test_precision_at_k_excludes_the_query() -> None:
    gallery = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2]] + 0.01 * np.arange(5)[:, None]
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    labels = ["a", "a", "b", "b", "c"]
    p = precision_at_k(gallery, labels, gallery, labels, ks=(1, 2), exclude=np.arange(5))
    # a, a, b, b find their twin first; c has no twin
    assert p[1] == pytest.approx(4 / 5)
    without_exclusion = precision_at_k(gallery, labels, gallery, labels, ks=(1,))
    assert without_exclusion[1] == 1.0
    with pytest.raises(InvalidInputError, match="too small"):
        precision_at_k(gallery, labels, gallery, labels, ks=(5,), exclude=np.arange(5))


def test_cosine_distances() -> None:
    v = np.asarray([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
    d = cosine_distances(v)
    np.testing.assert_allclose(d, [[0, 1, 2], [1, 0, 1], [2, 1, 0]], atol=1e-6)


def test_search_group_routes_queries_to_the_default_command() -> None:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        pass

    app.add_typer(search_app, name="search")
    runner = CliRunner()
    help_ = runner.invoke(app, ["search", "--help"])
    assert help_.exit_code == 0 and "index" in help_.output and "batch" in help_.output
    query_help = runner.invoke(app, ["search", "--text", "x", "--help"])
    assert query_help.exit_code == 0 and "--category" in query_help.output
    both = runner.invoke(app, ["search", "a.jpg", "--text", "red dress"])
    assert both.exit_code == 1 and "not both" in both.output
