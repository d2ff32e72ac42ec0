"""Deterministic training recipe: tiny SE-ResNet and its non-SE twin on the digits set (2 CPU cores, minutes).

    python -m se_deploy.data.train_digits --out weights/digits

Images go through the same eval transform the exported models record (``load_image`` with the tiny
models' preprocessing), so accuracy measured later by ``se-deploy eval`` is on the same footing.
Writes ``<model>.safetensors`` and ``training.json`` (settings, test accuracy, versions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from se_deploy.data.digits import write_digits_folder
from se_deploy.data.images import load_image, scan_image_folder
from se_deploy.fileio import atomic_write, atomic_write_text
from se_deploy.models import create_model, get_spec

MODELS: tuple[str, ...] = ("se_resnet_tiny", "resnet_tiny")
EPOCHS = 80
BATCH = 64
LR = 3e-3
WEIGHT_DECAY = 1e-4
SEED = 0


def load_split(split: str, model_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    preprocessing = get_spec(model_name).preprocessing
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / split
        write_digits_folder(folder, split=split)
        images = scan_image_folder(folder).images
        x = np.stack([load_image(image.path, preprocessing) for image in images])
        y = np.array([image.label for image in images])
    return torch.from_numpy(x), torch.from_numpy(y)


def train(
    model_name: str, data: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.nn.Module, dict[str, float]]:
    torch.manual_seed(SEED)
    model = create_model(model_name).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    x, y = data["train"]
    steps = EPOCHS * ((len(x) + BATCH - 1) // BATCH)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=steps)
    generator = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    for _epoch in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), BATCH):
            batch = order[i : i + BATCH]
            # Small random shifts: the digits are few; this keeps the tiny nets from memorising them.
            inputs = torch.roll(
                x[batch], shifts=tuple(torch.randint(-2, 3, (2,), generator=generator).tolist()), dims=(2, 3)
            )
            loss = torch.nn.functional.cross_entropy(model(inputs), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        test_x, test_y = data["test"]
        accuracy = float((model(test_x).argmax(1) == test_y).float().mean())
    return model, {"test_top1": accuracy, "train_seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("weights/digits"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {
        "recipe": "python -m se_deploy.data.train_digits",
        "epochs": EPOCHS,
        "batch": BATCH,
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "seed": SEED,
        "optimizer": "AdamW + OneCycle",
        "augmentation": "random shifts of up to 2 px",
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "models": {},
    }
    for name in MODELS:
        data = {split: load_split(split, name) for split in ("train", "test")}
        model, result = train(name, data)
        target = args.out / f"{name}.safetensors"
        tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
        atomic_write(target, lambda tmp, tensors=tensors: save_file(tensors, str(tmp)))
        record["models"][name] = result  # type: ignore[index]
        print(f"{name}: test top-1 {result['test_top1']:.4f} ({result['train_seconds']} s)")
    atomic_write_text(args.out / "training.json", json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
