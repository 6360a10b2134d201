"""The CNN whose weights NeRN/SBS represent: a small ResNet trained on scikit-learn's digits.

Everything is offline: `sklearn.datasets.load_digits` ships with scikit-learn (1797 8×8
grey images, 10 classes). `scripts/train_cnn.py` writes the checkpoint to
assets/digits_resnet.pt; `load_cnn` reads it, or trains one (seconds on a CPU) when the
file is missing and caches it beside the other assets.

The network follows ResNet-20's CIFAR layout scaled to 8×8 inputs: a 3×3 stem, then three
stages of one basic block each (widths 16/32/64, stride 2 between stages, 1×1 projection
shortcuts), global average pooling and a linear classifier. Its seven 3×3 convolutions
(7952 kernels) are the signal NeRN represents; BN, shortcuts and the classifier are kept as
they are, as in NeRN.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SignalError

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CHECKPOINT = ASSETS / "digits_resnet.pt"
WIDTHS = (16, 32, 64)


@dataclass
class DigitsData:
    """The digits split used everywhere (stratified 80/20, fixed seed), inputs standardised."""

    train_x: torch.Tensor  # (1437, 1, 8, 8)
    train_y: torch.Tensor  # (1437,)
    test_x: torch.Tensor  # (360, 1, 8, 8)
    test_y: torch.Tensor  # (360,)


def load_digits_data(seed: int = 0) -> DigitsData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0  # pixel counts 0..16 -> [0, 1]
    train_x, test_x, train_y, test_y = train_test_split(images, digits.target, test_size=0.2,
                                                        random_state=seed, stratify=digits.target)
    mean, std = train_x.mean(), train_x.std()

    def tensor(x):
        return torch.from_numpy((x - mean) / std)[:, None]  # (N, 8, 8) -> (N, 1, 8, 8)

    return DigitsData(tensor(train_x), torch.from_numpy(train_y).long(), tensor(test_x),
                      torch.from_numpy(test_y).long())


class BasicBlock(nn.Module):
    """ResNet basic block: conv3×3-BN-ReLU-conv3×3-BN plus the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class DigitsResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS, classes: int = 10):
        super().__init__()
        self.widths = tuple(widths)
        self.stem = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        blocks, channels = [], widths[0]
        for i, width in enumerate(widths):
            blocks.append(BasicBlock(channels, width, stride=1 if i == 0 else 2))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        out = F.relu(self.stem_bn(self.stem(x)))
        features = []
        for block in self.blocks:
            out = block(out)
            features.append(out)
        logits = self.fc(out.mean(dim=(2, 3)))
        return (logits, features) if return_features else logits


def conv3x3_names(model: nn.Module) -> list[str]:
    """Names of the 3×3 convolution weights, in forward order: the kernels NeRN represents."""
    return [name for name, p in model.named_parameters() if p.dim() == 4 and p.shape[-2:] == (3, 3)]


def count_model_parameters(model: nn.Module) -> int:
    """Every stored number of the CNN (weights, biases, BN affine and running statistics)."""
    return sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, weights: dict | None = None) -> float:
    """Top-1 accuracy in [0, 1]; `weights` replaces parameters by name (a reconstructed CNN)."""
    model.eval()
    if weights:
        logits = torch.func.functional_call(model, weights, (x,), strict=False)
    else:
        logits = model(x)
    return float((logits.argmax(dim=1) == y).float().mean())


def train_cnn(epochs: int = 30, seed: int = 0, widths: tuple[int, ...] = WIDTHS,
              data: DigitsData | None = None) -> tuple[DigitsResNet, dict]:
    """Adam + cosine schedule, light shift augmentation; about 10 s on 2 CPU cores."""
    data = data or load_digits_data()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = DigitsResNet(widths)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=5e-4)
    batches = (len(data.train_x) + 63) // 64
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(data.train_x), generator=generator)
        for i in range(batches):
            index = order[i * 64:(i + 1) * 64]
            x = data.train_x[index]
            # one-pixel random shifts: a little augmentation keeps 8×8 digits from overfitting
            shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), data.train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    info = {"dataset": "sklearn digits (8×8, 10 classes), stratified 80/20 split, seed 0",
            "architecture": f"ResNet-style, widths {list(widths)}, one basic block per stage",
            "epochs": epochs, "seed": seed, "widths": list(widths),
            "test_accuracy": accuracy(model, data.test_x, data.test_y),
            "train_accuracy": accuracy(model, data.train_x, data.train_y),
            "train_seconds": round(time.perf_counter() - start, 2),
            "parameters": count_model_parameters(model)}
    return model, info


def save_cnn(model: DigitsResNet, info: dict, path: Path = CHECKPOINT) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "info": info}, path)
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")


_CACHE: dict[str, tuple[DigitsResNet, dict]] = {}


def load_cnn(path: str | Path | None = None) -> tuple[DigitsResNet, dict]:
    """The trained CNN (eval mode) and its info dict; trains and saves it on first use.

    Loaded once per process; callers get their own copy, so nothing leaks between sessions.
    """
    path = Path(path) if path else CHECKPOINT
    key = str(path.resolve())
    if key not in _CACHE:
        if path.exists():
            try:
                payload = torch.load(path, map_location="cpu", weights_only=True)
                model = DigitsResNet(tuple(payload["info"]["widths"]))
                model.load_state_dict(payload["state_dict"])
                info = payload["info"]
            except Exception:  # corrupt or foreign checkpoint: say which file, not torch.load's advice
                raise SignalError(f"cannot read the CNN checkpoint {path}: not a digits-CNN checkpoint written by "
                                  "`nern train-cnn` (state_dict + info)") from None
        elif path == CHECKPOINT:
            model, info = train_cnn()
            save_cnn(model, info, path)
        else:
            raise SignalError(f"no CNN checkpoint at {path}")
        model.eval()
        _CACHE[key] = (model, info)
    model, info = _CACHE[key]
    copy = DigitsResNet(model.widths)
    copy.load_state_dict(model.state_dict())
    return copy.eval(), dict(info)
