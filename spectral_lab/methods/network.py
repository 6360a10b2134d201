"""The coordinate MLP most methods build, and the initialisations several families share.

encoding -> [Linear -> activation] × depth -> Linear. Training logic lives in train.py; this
module only defines the function and how its weights start.
"""
from __future__ import annotations

import math
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


def mlp(cfg, signal, make_activation, encoding: nn.Module | None = None,
        complex_hidden: bool = False) -> CoordinateMLP:
    """The config's width × depth MLP from the signal's input to its channels."""
    return CoordinateMLP(signal.in_dim, signal.channels, cfg.width, cfg.depth, make_activation,
                         encoding=encoding, complex_hidden=complex_hidden)


# ----------------------------------------------------------------------------------------------
# Initialisation schemes (in place, under torch.no_grad()).
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def siren_init(linear: nn.Linear, omega0: float, first: bool) -> None:
    """SIREN Sec. 3.2: first layer W ~ U(±1/fan_in); others U(±√(6/fan_in)/ω₀). Bias: PyTorch default."""
    fan_in = linear.weight.shape[1]
    bound = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / omega0
    linear.weight.uniform_(-bound, bound)


def siren_initialised(model: CoordinateMLP, first_omega0: float, omega0: float) -> CoordinateMLP:
    """SIREN's init on every linear of `model` (first U(±1/fan_in), others U(±√(6/fan_in)/ω₀),
    the head included), in place; returns the model."""
    for i, linear in enumerate(model.linears):
        siren_init(linear, first_omega0 if i == 0 else omega0, first=(i == 0))
    siren_init(model.head, omega0, first=False)
    return model


def sine_family_mlp(cfg, signal, make_activation) -> CoordinateMLP:
    """An MLP with SIREN's init: the sine family and the activations trained with its settings."""
    return siren_initialised(mlp(cfg, signal, make_activation), cfg.first_omega0, cfg.omega0)


@torch.no_grad()
def uniform_bias(linear: nn.Linear, bound: float) -> None:
    """FINER / FINER++: first-layer bias b ~ U(−k, k) widens the frequency support."""
    linear.bias.uniform_(-bound, bound)
