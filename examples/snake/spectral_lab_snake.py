"""Snake, x + sin²(αx)/α (Ziyin, Hartwig & Ueda, NeurIPS 2020, Eq. 4), as a Spectral Lab method.

A ReLU-like trend plus a periodic ripple: α sets the ripple's frequency (α → 0: the identity).
`pip install -e examples/snake`, then `python -m spectral_lab fit --method snake`.
"""
import torch
from torch import nn

from spectral_lab.methods import MethodSpec, register
from spectral_lab.methods.network import mlp


class Snake(nn.Module):
    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + torch.sin(self.alpha * z).square() / self.alpha


def build_snake(cfg, signal) -> nn.Module:
    # α is read from the shared knob omega0 (a plug-in adds no RunConfig fields)
    return mlp(cfg, signal, lambda i: Snake(cfg.omega0))


def register_methods() -> None:
    register(MethodSpec(
        "snake", build_snake, "Snake activation z + sin²(αz)/α: a ReLU-like trend with a periodic ripple.",
        "Ziyin, Hartwig & Ueda, Neural Networks Fail to Learn Periodic Functions and How to Fix It, NeurIPS 2020",
        "α (= omega0) inside the activation; PyTorch's default init", lambda signal: {"lr": 1e-3, "omega0": 10.0},
        ("omega0",), family="plug-ins"))
