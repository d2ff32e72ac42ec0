"""BN-Inception: the Caffe/Cadene layout, SE on the module output, Cadene's flat key names, BGR input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from se_deploy.data.images import preprocess_image
from se_deploy.models import create_model, get_spec
from se_deploy.models.checkpoint import load_pretrained


def to_cadene_flat(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The names Cadene's ``bninception`` gives the same tensors (``inception_3a_1x1_bn.running_var``)."""
    out = {}
    for key, value in state_dict.items():
        key = re.sub(r"^(inception_\w\w)\.b_(\w+?)\.", r"\1_\2.", key)
        key = re.sub(r"\.conv\.(\w+)$", r".\1", key)
        key = re.sub(r"\.bn\.(\w+)$", r"_bn.\1", key)
        out[re.sub(r"^fc\.", "last_linear.", key)] = value
    return out


def test_full_model_has_cadenes_names_and_shapes() -> None:
    with torch.device("meta"):
        flat = to_cadene_flat(create_model("bn_inception").state_dict())
    # Shapes read off Cadene's bninception.py.
    expected = {
        "conv1_7x7_s2.weight": (64, 3, 7, 7),
        "conv1_7x7_s2_bn.running_var": (64,),
        "conv2_3x3.bias": (192,),
        "inception_3a_pool_proj.weight": (32, 192, 1, 1),
        "inception_3c_3x3.weight": (160, 128, 3, 3),
        "inception_4e_double_3x3_2.weight": (256, 256, 3, 3),
        "inception_5a_1x1.weight": (352, 1056, 1, 1),
        "inception_5b_pool_proj_bn.weight": (128,),
        "last_linear.weight": (1000, 1024),
    }
    assert {k: tuple(flat[k].shape) for k in expected} == expected
    assert not any(k.startswith(("inception_3c_1x1", "inception_3c_pool_proj")) for k in flat)  # pass-through


def test_se_sits_on_each_module_output() -> None:
    model = create_model("se_bn_inception_tiny")
    names = [n for n, m in model.named_modules() if type(m).__name__ == "SqueezeExcitation"]
    assert names == [f"inception_{i}.se" for i in ("3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    with torch.device("meta"):
        full = create_model("se_bn_inception")
    assert full.inception_4e.se.channels == 1056 and full.inception_5b.se.channels == 1024


def test_cadene_flat_checkpoint_loads_with_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(2)
    source = create_model("bn_inception_tiny")
    path = tmp_path / "bn_inception.pth"
    torch.save(to_cadene_flat(source.state_dict()), path)
    model, info = load_pretrained(get_spec("bn_inception_tiny"), path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
    assert info.layout == "cadene" and any("BGR" in note for note in info.notes)


def test_preprocessing_is_caffes_bgr_0_255() -> None:
    image = np.zeros((256, 256, 3), np.uint8)
    image[..., 0] = 255  # pure red
    array = preprocess_image(image, get_spec("bn_inception").preprocessing)
    assert array.shape == (3, 224, 224)
    np.testing.assert_allclose(array[:, 0, 0], [0 - 104, 0 - 117, 255 - 128])  # B, G, R minus the Caffe means
