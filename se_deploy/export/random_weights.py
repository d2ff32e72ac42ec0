"""Seeded random weights that behave like a trained network's: BatchNorm statistics fitted to the model.

Fresh BatchNorm layers hold running mean 0 and variance 1, so in eval mode they pass activations through
unnormalized and every residual block adds its branch at full scale: in a 152-layer ResNet the logits reach
~1e4 and float32 rounding differences between two correct runtimes grow to 40% of them (ONNX Runtime vs
torch), so no export could be verified. A trained network's BatchNorm normalizes what it sees; fitting the
running statistics once on seeded random images (one forward pass in train mode, cumulative average) gives
random weights the same property: unit-scale activations in every block, the SE gates spread over (0, 1)
instead of saturated, and outputs whose errors measure the runtime, not the conditioning.

Which images matters in a deep network: statistics fitted on white noise keep SE-ResNet-152 well conditioned
on white noise (export verification's inputs) but let image-like inputs (the SE-native build's
verification) reach logits of 4e4 again, and the reverse. Half of each keeps both at unit scale.
"""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.image_like import image_like_inputs

CALIBRATION_BATCH = 4  # images (half white noise, half image-like); statistics pool batch x H x W values


def fit_batch_norm_statistics(model: nn.Module, image_size: int, *, seed: int, batch: int = CALIBRATION_BATCH) -> int:
    """Set every BatchNorm's running mean / variance from one pass over seeded random images; return how many.

    The model is left in eval mode. Parameters (weights, BN scale and shift) are not touched.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: one pass sets the statistics exactly
    images = calibration_images(batch, image_size, seed)
    model.train()
    try:
        with torch.no_grad():
            model(images)
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()
    return len(norms)


def calibration_images(batch: int, image_size: int, seed: int) -> torch.Tensor:
    """``batch`` seeded images: white noise, then image-like (smooth, normalized) ones."""
    noise = torch.randn(batch - batch // 2, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    smooth = torch.from_numpy(image_like_inputs((batch // 2, 3, image_size, image_size), seed))
    return torch.cat([noise, smooth])


def random_weights_record(seed: int) -> dict[str, object]:
    """What model.json says about seeded random weights."""
    return {
        "source": "random",
        "seed": seed,
        "batch_norm_statistics": f"fitted on {CALIBRATION_BATCH} seeded images, half white noise, half image-like "
        "(train-mode pass)",
    }


def statistics_fact(image_size: int, seed: int) -> dict[str, int]:
    """How the statistics were fitted, embedded in the ONNX so fidelity rebuilds exactly these weights."""
    return {"images": CALIBRATION_BATCH, "image_size": image_size, "seed": seed}
