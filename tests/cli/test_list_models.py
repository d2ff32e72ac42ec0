"""`se-deploy list-models`: the zoo table and JSON."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import run


def test_list_models_json_lists_the_resnet_family_with_paper_figures() -> None:
    code, stdout, _ = run("list-models", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(stdout)}
    assert "se_resnet_tiny" not in rows
    se50 = rows["se_resnet50"]
    assert se50["twin"] == "resnet50" and se50["has_se"]
    assert se50["gmacs"] == pytest.approx(se50["paper"]["gmacs"], rel=0.01)
    assert se50["params_m"] == pytest.approx(28.1, rel=0.01)
    assert se50["paper"]["top1_err"] == 23.29


TEN_SE_MODELS = {
    "se_resnet50": "resnet50",
    "se_resnet101": "resnet101",
    "se_resnet152": "resnet152",
    "se_resnext50_32x4d": "resnext50_32x4d",
    "se_resnext101_32x4d": "resnext101_32x4d",
    "senet154": "senet154_no_se",
    "se_vgg16_bn": "vgg16_bn",
    "se_bn_inception": "bn_inception",
    "se_inception_resnet_v2": "inception_resnet_v2",
    "se_mobilenet": "mobilenet",
    "se_shufflenet_g3": "shufflenet_g3",
}


def test_list_models_shows_the_papers_zoo_with_twins_and_explains_gaps() -> None:
    code, stdout, _ = run("list-models", "--json")
    rows = {row["name"]: row for row in json.loads(stdout)}
    for se_name, twin in TEN_SE_MODELS.items():
        assert rows[se_name]["twin"] == twin and rows[twin]["twin"] == se_name
        for row in (rows[se_name], rows[twin]):
            paper = row["paper"]
            if paper["gmacs"] is not None and not paper["note"]:
                assert row["gmacs"] == pytest.approx(paper["gmacs"], rel=0.02), row["name"]
            if paper["params_m"] is not None and not paper["note"]:
                assert row["params_m"] == pytest.approx(paper["params_m"], rel=0.02), row["name"]
            assert paper["gmacs"] is not None or row["notes"], f"{row['name']}: no paper figure and no reason"
    code, table, _ = run("list-models")
    assert code == 0
    assert "[2] paper's 11.75 GFLOPs not reproducible" in " ".join(table.split())
    assert "truncated" in table and "SENet-154" in table


def test_list_models_table_shows_whole_names() -> None:
    code, stdout, _ = run("list-models", "--all")
    assert code == 0
    for name in ("se_resnet152_tv", "resnet_tiny_basic", "23.29"):
        assert name in stdout


def test_unknown_family_is_refused_not_an_empty_table() -> None:
    code, _, stderr = run("list-models", "--family", "nosuch")
    assert code == 1 and "unknown family 'nosuch'; choose one of" in stderr and "resnet" in stderr
