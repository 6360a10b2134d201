"""The coordinate MLP every method builds: encoding -> [Linear -> activation] × depth -> Linear.

Training logic lives in train.py; this module only defines the function.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class CoordinateMLP(nn.Module):
    """f(x) = W_out h_depth + b_out with h_l = φ_l(W_l h_{l-1} + b_l), h_0 = encoding(x).

    `depth` counts the activation layers (WINNER's "4×222" = depth 4, width 222). With
    `complex_hidden` (WIRE) every linear after the first has complex weights and the output is
    the real part of the complex head, as in WIRE's reference.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int,
                 make_activation: Callable[[int], nn.Module], encoding: nn.Module | None = None,
                 complex_hidden: bool = False):
        super().__init__()
        self.encoding = encoding if encoding is not None else nn.Identity()
        enc_dim = getattr(self.encoding, "out_dim", in_dim)
        self.complex_hidden = complex_hidden
        dims = [enc_dim] + [width] * depth
        hidden_dtype = torch.cfloat if complex_hidden else None
        self.linears = nn.ModuleList(
            nn.Linear(dims[i], dims[i + 1], dtype=hidden_dtype if i > 0 else None) for i in range(depth)
        )
        self.activations = nn.ModuleList(make_activation(i) for i in range(depth))
        self.head = nn.Linear(width, out_dim, dtype=hidden_dtype)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        hidden = self.encoding(coords)
        for linear, activation in zip(self.linears, self.activations):
            hidden = activation(linear(hidden))
        out = self.head(hidden)
        return out.real if out.is_complex() else out

    @torch.no_grad()
    def layer_activations(self, coords: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(pre-activation z_l, post-activation h_l)] per hidden layer, for diagnostics."""
        hidden, records = self.encoding(coords), []
        for linear, activation in zip(self.linears, self.activations):
            pre = linear(hidden)
            hidden = activation(pre)
            records.append((pre, hidden))
        return records


def count_parameters(model: nn.Module) -> int:
    """Parameters of the network as it is used (a complex weight counts twice, as WIRE's paper
    counts it). A layer trained in another parameterisation (FR's W = ΛB) counts as the plain
    layer it folds back into: `inference_parameters`."""
    total, counted = 0, set()
    for module in model.modules():
        if hasattr(module, "inference_parameters"):
            total += module.inference_parameters
            counted.update(id(p) for p in module.parameters())
    return total + sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()
                       if p.requires_grad and id(p) not in counted)
