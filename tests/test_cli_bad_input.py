"""Careless input gets one clear line and exit 1 (or click's usage error), never a traceback; Ctrl-C exits 130."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper
from PIL import Image

from se_deploy.cli import main
from se_deploy.entry import INTERRUPTED
from tests.rewrite.graphs import SEGraph

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails with it
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    image = tmp_path / "image.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8).build(), str(image))
    weight = helper.make_tensor("W", TensorProto.FLOAT, [16, 4], np.ones(64, np.float32))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "rank2",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [weight],
    )
    rank2 = tmp_path / "rank2.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(rank2))
    two_inputs = tmp_path / "two_inputs.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8, residual=True).build(), str(two_inputs))
    text = tmp_path / "notes.pth"
    text.write_text("hello\n")
    calib = tmp_path / "calib" / "3"
    calib.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(calib / f"{i}.png")
    return {"image": image, "rank2": rank2, "two_inputs": two_inputs, "text": text, "calib": calib.parent}


def test_text_file_renamed_pth_is_one_line(tmp_path: Path, files: dict[str, Path]) -> None:
    code, _, stderr = run(
        "export", "--model", "se_resnet_tiny", "--weights", str(files["text"]), "-o", str(tmp_path / "o")
    )
    assert code == 1 and "not a valid PyTorch checkpoint" in stderr and len(stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "o").exists()  # no empty output folder either


@pytest.mark.parametrize(
    ("model", "message"),
    [("rank2", "not an image batch (N, 3, H, W)"), ("two_inputs", "has 2 inputs (X, R)")],
)
def test_int8_calibration_of_a_non_image_model_is_refused_before_calibrating(
    tmp_path: Path, files: dict[str, Path], model: str, message: str
) -> None:
    out = tmp_path / "engine"
    code, _, stderr = run(
        "build", str(files[model]), "-o", str(out), "--precision", "int8", "--calib", str(files["calib"])
    )
    assert code == 1 and message in " ".join(stderr.split())
    assert not out.exists()


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


@pytest.mark.parametrize(
    "args",
    [
        ("export", "--model", "se_resnet_tiny", "--num-classes", "0"),
        ("export", "--model", "se_resnet_tiny", "--se-reduction", "-1"),
        ("eval", "m.onnx", "--data", ".", "--limit", "0"),
        ("bench", "--model", "m.onnx", "--iterations", "-2"),
        ("bench", "--model", "m.onnx", "--warmup", "-1"),
        ("bench", "--model", "m.onnx", "--threads", "-1"),
        ("package", "m.onnx", "--instances", "0"),
        ("build", "m.onnx", "-o", "e", "--backend", "tensorrt", "--max-batch", "0"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(args: tuple[str, ...]) -> None:
    code, _, stderr = run(*args)
    assert code == 2 and "is not in the range" in stderr


def test_eval_refuses_a_class_layout_that_cannot_match_and_says_what_it_found(
    tmp_path: Path, digits_models: dict[str, Path]
) -> None:
    cats = tmp_path / "one-class" / "cats"
    cats.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(cats / f"{i}.png")
    code, _, stderr = run("eval", str(digits_models["se_resnet_tiny"]), "--data", str(tmp_path / "one-class"))
    text = " ".join(stderr.split())
    assert code == 1 and "1 class folder(s)" in text and "cats: 3" in text and "the model has 10 classes" in text
    digit = tmp_path / "digit" / "7"
    digit.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 90 * i, np.uint8)).save(digit / f"{i}.png")
    code, _, stderr = run("eval", str(digits_models["se_resnet_tiny"]), "--data", str(tmp_path / "digit"))
    assert code == 0 and "labeled by folder name = class index" in " ".join(stderr.split())


def test_eval_finds_the_export_weights_from_another_folder_and_notes_a_changed_or_missing_file(
    tmp_path: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_weights.parent)
    code, _, stderr = run(
        "export", "--model", "se_resnet_tiny", "--no-twin", "--weights", tiny_weights.name, "-o", "repo"
    )
    assert code == 0, stderr
    onnx_path = tiny_weights.parent / "repo" / "se_resnet_tiny" / "1" / "model.onnx"
    facts = json.loads(next(p.value for p in onnx.load(str(onnx_path)).metadata_props if p.key == "se_deploy"))
    assert facts["weights"]["path"] == str(tiny_weights) and len(facts["weights"]["sha256"]) == 64
    data = tmp_path / "data" / "4"
    data.mkdir(parents=True)
    Image.fromarray(np.full((32, 32, 3), 100, np.uint8)).save(data / "a.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, stdout, stderr = run("eval", str(onnx_path), "--data", str(data.parent), "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["fidelity"]["top1_agreement"] == 1.0  # the reference was found and agrees
    tiny_weights.write_bytes(tiny_weights.read_bytes() + b"\0")
    code, stdout, _ = run("eval", str(onnx_path), "--data", str(data.parent), "--json")
    result = json.loads(stdout)
    assert result["fidelity"] is None and any("changed since export" in note for note in result["notes"])
    tiny_weights.unlink()
    code, _, stderr = run("eval", str(onnx_path), "--data", str(data.parent))
    assert code == 0 and "are not found from" in " ".join(stderr.split())


def _interrupted_run(trigger: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry with a KeyboardInterrupt raised when ``trigger`` is first imported."""
    script = textwrap.dedent(
        f"""
        import sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == {trigger!r}:
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = {["se-deploy", *argv]!r}
        from se_deploy.entry import main
        main()
        """
    )
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("trigger", "argv"),
    [
        ("click", ["list-models"]),  # during start-up: the CLI module's own imports
        ("se_deploy.models.catalog", ["list-models"]),  # inside a command
    ],
)
def test_ctrl_c_anywhere_is_one_line_and_exit_130(trigger: str, argv: list[str]) -> None:
    result = _interrupted_run(trigger, argv)
    assert result.returncode == 130, result.stderr
    assert result.stderr == INTERRUPTED and "Traceback" not in result.stderr


def test_every_option_has_help_text() -> None:
    missing = [
        f"{name} {param.opts[0]}"
        for name, command in main.commands.items()
        for param in command.params
        if isinstance(param, __import__("click").Option) and not param.hidden and not param.help
    ]
    assert missing == []


def test_every_writing_command_takes_o_and_output() -> None:
    for name in ("export", "fuse", "build", "package", "bench"):
        options = {opt for param in main.commands[name].params for opt in param.opts}
        assert {"-o", "--output", "--force"} <= options, name
    for name in ("list-models", "export", "inspect", "fuse", "build", "eval", "bench"):
        (json_option,) = [p for p in main.commands[name].params if "--json" in p.opts]
        assert json_option.is_flag or json_option.flag_value == "-", name  # --json alone prints JSON everywhere


def test_unknown_family_is_refused_not_an_empty_table() -> None:
    code, _, stderr = run("list-models", "--family", "nosuch")
    assert code == 1 and "unknown family 'nosuch'; choose one of" in stderr and "resnet" in stderr


def test_calib_without_int8_is_noted_not_silently_ignored(tmp_path: Path, files: dict[str, Path]) -> None:
    code, _, stderr = run("build", str(files["image"]), "-o", str(tmp_path / "e"), "--calib", str(files["calib"]))
    assert code == 0 and "--calib is used only by --precision int8" in " ".join(stderr.split())


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


def test_ctrl_c_swallowed_by_a_callback_still_ends_the_run() -> None:
    # Python reports a KeyboardInterrupt raised inside a callback (importlib's module-lock cleanup, a
    # weakref finalizer) as "Exception ignored" and carries on; the entry point turns it into exit 130.
    script = textwrap.dedent(
        """
        import weakref

        import se_deploy.cli

        class Target:
            pass

        def interrupted(_ref):
            raise KeyboardInterrupt

        def command():
            target = Target()
            ref = weakref.ref(target, interrupted)
            del target  # the callback runs here; Python would print "Exception ignored" and go on
            print("carried on")

        se_deploy.cli.main = command
        from se_deploy.entry import main
        main()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 130 and result.stderr == INTERRUPTED and "carried on" not in result.stdout
