"""`se-deploy bench`: models it cannot feed, checks before measuring, its report folder and --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import one_line_refusal, run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bench", "--model", "{two_inputs}"), "bench needs a model with one image input"),
        (("bench", "--model", "{rank2}"), "bench needs an image model"),
        (("eval", "{rank2}", "--data", "{calib}"), "eval needs an image model"),
        (("eval", "{image}", "--data", "{calib}"), "not (N, classes) logits"),
    ],
)
def test_models_bench_and_eval_cannot_feed_are_refused(
    tmp_path: Path, files: dict[str, Path], args: tuple[str, ...], message: str
) -> None:
    filled = [arg.format(**{k: str(v) for k, v in files.items()}) for arg in args]
    code, _, stderr = run(*filled, *(("-o", str(tmp_path / "report")) if args[0] == "bench" else ()))
    assert code == 1 and message in " ".join(stderr.split())
    assert not (tmp_path / "report").exists()


def test_bench_checks_its_data_before_measuring(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import se_deploy.bench.job as job

    def no_measuring(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("measured before checking --data")

    monkeypatch.setattr(job, "measure_interleaved", no_measuring)
    code, _, stderr = run(
        "bench", "--model", str(files["image"]), "--data", str(files["calib"]), "-o", str(tmp_path / "r")
    )
    assert code == 1 and "not (N, classes) logits" in " ".join(stderr.split())


QUICK = ("--batch", "1", "--rounds", "2", "--iterations", "1", "--warmup", "0")


def test_bench_refuses_a_foreign_report_folder_before_measuring(
    tmp_path: Path, image_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "report.md").write_text("my report")
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "-o", str(foreign), "--force")
    one_line_refusal(code, stderr, "was not written by se-deploy")
    assert (foreign / "report.md").read_text() == "my report"
    monkeypatch.chdir(foreign)
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "--out", ".", "--force")
    one_line_refusal(code, stderr, "is the current folder")


def test_bench_json_flag_output_option_and_force(tmp_path: Path, image_onnx: Path) -> None:
    report_dir = tmp_path / "report"
    code, stdout, stderr = run("bench", "--model", str(image_onnx), *QUICK, "--out", str(report_dir), "--json")
    assert code == 0, stderr
    assert "--out is deprecated" in stderr
    assert json.loads(stdout)["schema"] == "se-deploy/bench/1"  # --json alone: the report on stdout
    assert json.loads((report_dir / "report.json").read_text())["schema"] == "se-deploy/bench/1"
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "-o", str(report_dir))
    one_line_refusal(code, stderr, "already exists; pass --force")
    copy = tmp_path / "copy.json"
    code, _, stderr = run(
        "bench", "--model", str(image_onnx), *QUICK, "-o", str(report_dir), "--force", "--json", str(copy)
    )
    assert code == 0, stderr
    assert "--json PATH is deprecated" in stderr and json.loads(copy.read_text())["schema"] == "se-deploy/bench/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.json", "model.onnx", "report"]  # no staging left
