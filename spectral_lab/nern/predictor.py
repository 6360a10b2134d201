"""NeRN / SBS: represent a CNN's 3×3 kernels with a coordinate MLP (SBS Fig. 1).

The signal: every 3×3 kernel of the CNN (cnn.py) sits at a coordinate (layer, filter,
channel), each axis normalised per layer to [-1, 1] (NeRN: filter f of a layer with F
filters is at 2f/(F−1) − 1, likewise channels; layers over the network). Kernels are first
reordered within each layer (smoothing.py); the MLP learns the reordered grid and the
inverse permutation puts its predictions back, exactly, when the CNN is rebuilt.

The predictor is NeRN's 5-layer ReLU MLP (4 hidden layers + linear head, 9 outputs) on
either NeRN's positional encoding (SBS Eq. 9) or SBS's random Fourier features
[cos(πBx), sin(πBx)], B ~ N(0, σ²) (SBS Eq. 11). UOS-RFF (SBS Sec. 4.3) scales the
bandwidth per layer, σ_l² = σ² · n̄ / n_l with n_l the layer's kernel count and n̄ the mean:
larger layers get a smaller σ.

Loss (SBS Fig. 1): L_recon + α L_atten + β L_KD, with L_recon the MSE to the (smoothed)
kernels, L_atten the MSE between normalised attention maps (Σ_c a_c², NeRN) of each block
of the original and rebuilt CNN, and L_KD the distillation KL at temperature T.
CR = MLP parameters / CNN parameters (SBS Sec. 5.1).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cnn import DigitsData, accuracy, conv3x3_names, count_model_parameters, load_cnn, load_digits_data
from ..config import FlatConfig, knob
from ..errors import ConfigError
from ..methods.encodings import PositionalEncoding
from ..methods.network import CoordinateMLP, count_parameters
from ..methods.registry import SEEDED_DRAWS
from ..ntk import NTKResult, analyse_kernel, empirical_ntk
from .orderings import (ORDERINGS, grid_spectrum, low_frequency_energy, network_smoothness, order_layer,
                        permute, unpermute)
from ..train import pick_device

KERNEL_SIZE = 9  # 3×3 kernels, flattened
SETTINGS = {
    # name -> (encoding, smoothing, rff_rule): the two columns of SBS Tables 1 and 4
    "nern": ("pe", "nern", "network"),
    "nern_plain": ("pe", "none", "network"),
    "sbs": ("rff", "uos", "network"),
    "sbs_plain": ("rff", "none", "network"),
}


@dataclass
class NernConfig(FlatConfig):
    # --- the signal: which CNN, how its kernels are ordered ---
    checkpoint: str = knob("", "CNN checkpoint (empty: assets/digits_resnet.pt, trained on first use)")
    smoothing: str = knob("uos", "in-layer kernel ordering: none, random, nern (cosine), uos or mos (SBS)",
                          choices=ORDERINGS)
    normalise: bool = knob(False, "divide each layer's kernels by their std before fitting (one number per layer)")
    # --- the predictor ---
    hidden: int = knob(48, "hidden width of the MLP (sets the compression ratio)", 2, 4096)
    depth: int = knob(4, "hidden ReLU layers (NeRN: 4 hidden + linear head = 5 layers)", 1, 12)
    encoding: str = knob("rff", "pe: NeRN positional encoding; rff: SBS random Fourier features",
                         choices=("pe", "rff"))
    pe_levels: int | None = knob(None, "PE levels L per axis (None: ⌈log₂ of the largest layer side⌉)", 1, 16)
    rff_sigma: float = knob(8.0, "RFF bandwidth σ of B ~ N(0, σ²) in [cos(πBx), sin(πBx)]", 0.0, 1e4)
    rff_features: int = knob(32, "RFF frequencies m (the encoding has 2m features)", 1, 2048)
    rff_rule: str = knob("network", "σ of the RFF per CNN layer: per_layer = this project's reading of SBS's UOS-RFF, "
                                      "σ_l² = σ²·n̄/n_l (n_l kernels in layer l); network = one σ for the whole "
                                      "network, as SBS picks it (Sec. 5, Table 5)", choices=("per_layer", "network"))
    # --- training (SBS Fig. 1 loss) ---
    steps: int = knob(1000, "training steps (Adam, full batch of kernels)", 1, 1_000_000)
    lr: float = knob(3e-3, "initial learning rate (cosine decay to 1%)", 1e-6, 1.0)
    feature_weight: float = knob(1.0, "α: weight of the feature-map (attention) loss; 0 = off", 0.0, 1e4)
    kd_weight: float = knob(0.01, "β: weight of the distillation loss; 0 = off", 0.0, 1e4)
    grad_clip: float = knob(1.0, "max gradient norm (0: off); without it the distillation phase derailed 4 of 8 "
                                 "runs of the default sweep (accuracy back to chance)", 0.0, 1e6)
    warmup: float = knob(0.3, "share of the steps trained on the reconstruction loss alone before α, β switch on "
                              "(from random kernels the rebuilt CNN's logits are ~1e5 and distillation derails)",
                         0.0, 1.0)
    kd_temperature: float = knob(4.0, "distillation temperature T", 0.1, 100.0)
    batch_images: int = knob(128, "digits per step for the feature-map / distillation losses", 1, 1437)
    seed: int = knob(0, "seed for the MLP, the RFF matrix and random orderings", 0, 2**31 - 1)
    device: str = knob("auto", "auto (CUDA when present), cpu or cuda", choices=("auto", "cpu", "cuda"))
    # --- cadences ---
    log_every: int = knob(25, "steps between Snapshots", 1, 1_000_000)
    eval_every: int = knob(250, "steps between accuracy evaluations of the rebuilt CNN (0: only at the end)",
                           0, 1_000_000)
    ntk_every: int = knob(0, "steps between eNTK snapshots (0: off)", 0, 1_000_000)
    ntk_points: int = knob(256, "kernels of the largest layer the eNTK is computed on", 16, 2048)

    @classmethod
    def for_setting(cls, setting: str, **changes) -> "NernConfig":
        """NeRN-style (PE + cosine smoothing) or SBS-style (UOS-RFF + UOS), ± smoothing."""
        if setting not in SETTINGS:
            raise ConfigError(f"setting must be one of {', '.join(SETTINGS)}; got {setting!r}")
        encoding, smoothing, rule = SETTINGS[setting]
        return cls(encoding=encoding, smoothing=smoothing, rff_rule=rule).replace(**changes)


# ----------------------------------------------------------------------------------------------
# The signal: kernels, their coordinates and orderings
# ----------------------------------------------------------------------------------------------
@dataclass
class KernelSignal:
    """All 3×3 kernels of a CNN as a coordinate -> 9-vector signal, in smoothed order."""

    names: list[str]  # conv weight names, forward order
    shapes: list[tuple[int, int]]  # (F, C) per layer
    original: list[np.ndarray]  # (F, C, 9) per layer, the CNN's order
    perms: list[np.ndarray]  # (F·C,) per layer: position -> original flat index
    smoothing: str
    coords: np.ndarray = field(repr=False)  # (N, 3) float32, (layer, filter, channel) in [-1, 1]
    values: np.ndarray = field(repr=False)  # (N, 9) float32, smoothed grids / layer scale, layer by layer
    layer_of: np.ndarray = field(repr=False)  # (N,) layer index of each row
    scales: np.ndarray = field(repr=False)  # (L,) per-layer divisor of `values` (1 when not normalised)

    @property
    def num_kernels(self) -> int:
        return int(self.values.shape[0])

    def offsets(self) -> list[int]:
        return [0] + list(np.cumsum([f * c for f, c in self.shapes]))

    def grids(self) -> list[np.ndarray]:
        """Smoothed grids (F, C, 9) per layer, in the CNN's units."""
        return [permute(k, p) for k, p in zip(self.original, self.perms)]

    def row_scales(self) -> np.ndarray:
        """(N, 1) scale of each row: values × row_scales() are kernels in the CNN's units."""
        return self.scales[self.layer_of][:, None].astype(np.float32)

    def to_kernels(self, values) -> list:
        """(N, 9) values in smoothed order (numpy or torch) -> per layer (F, C, 3, 3) in the CNN's order."""
        offsets, out = self.offsets(), []
        for i, ((f, c), perm) in enumerate(zip(self.shapes, self.perms)):
            grid = values[offsets[i]:offsets[i + 1]].reshape(f, c, KERNEL_SIZE) * float(self.scales[i])
            out.append(unpermute(grid, perm).reshape(f, c, 3, 3))
        return out

    def weights(self, values) -> dict:
        """{conv name: weight} for functional_call: a CNN rebuilt from predicted kernels."""
        kernels = self.to_kernels(values)
        return {name: (k if isinstance(k, torch.Tensor) else torch.as_tensor(k))
                for name, k in zip(self.names, kernels)}


def normalised_axis(count: int) -> np.ndarray:
    """Indices 0..count−1 -> [-1, 1] (a single index sits at 0)."""
    return np.linspace(-1.0, 1.0, count) if count > 1 else np.zeros(1)


def kernel_signal(model: nn.Module, smoothing: str = "none", seed: int = 0, normalise: bool = False) -> KernelSignal:
    """Collect the 3×3 kernels of `model`, order each layer, and lay out coordinates.

    With `normalise`, each layer's kernels are divided by their standard deviation (one stored
    number per layer), so small-valued deep layers weigh as much in the loss as the stem."""
    state = model.state_dict()
    names = conv3x3_names(model)
    originals = [state[n].detach().cpu().numpy().reshape(*state[n].shape[:2], KERNEL_SIZE) for n in names]
    perms = [order_layer(k, smoothing, seed=seed + i) for i, k in enumerate(originals)]
    scales = np.array([k.std() if normalise else 1.0 for k in originals], dtype=np.float64)
    layer_axis = normalised_axis(len(names))
    coords, values, layer_of = [], [], []
    for i, (kernels, perm) in enumerate(zip(originals, perms)):
        f, c = kernels.shape[:2]
        ff, cc = np.meshgrid(normalised_axis(f), normalised_axis(c), indexing="ij")  # (F, C) each
        coords.append(np.stack([np.full(f * c, layer_axis[i]), ff.ravel(), cc.ravel()], axis=1))
        values.append(permute(kernels, perm).reshape(f * c, KERNEL_SIZE) / scales[i])
        layer_of.append(np.full(f * c, i))
    return KernelSignal(names=names, shapes=[k.shape[:2] for k in originals], original=originals, perms=perms,
                        smoothing=smoothing, coords=np.concatenate(coords).astype(np.float32),
                        values=np.concatenate(values).astype(np.float32), layer_of=np.concatenate(layer_of),
                        scales=scales)


# ----------------------------------------------------------------------------------------------
# The predictor
# ----------------------------------------------------------------------------------------------
class LayerwiseFourierFeatures(nn.Module):
    """SBS Eq. 11, φ(x) = [cos(π σ_l G x), sin(π σ_l G x)], G ~ N(0, I) fixed, σ_l per CNN layer.

    The layer is read back from the first coordinate (layer axis in [-1, 1]), so the encoding
    is a plain function of the coordinate and works on any subset of points (eNTK)."""

    def __init__(self, num_features: int, sigmas: np.ndarray, generator: torch.Generator | None = None):
        super().__init__()
        self.register_buffer("G", torch.randn(num_features, 3, generator=generator))
        self.register_buffer("sigmas", torch.as_tensor(np.asarray(sigmas), dtype=torch.float32))

    @property
    def out_dim(self) -> int:
        return 2 * self.G.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self.sigmas.numel()
        index = torch.round((x[:, 0] + 1) * 0.5 * (layers - 1)).long().clamp(0, layers - 1)
        angles = math.pi * self.sigmas[index][:, None] * (x @ self.G.T)  # (N, m)
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def layer_sigmas(config: NernConfig, shapes: list[tuple[int, int]]) -> np.ndarray:
    """per_layer (this project's reading of UOS-RFF): σ_l² = σ²·n̄/n_l, larger layers a smaller bandwidth;
    network (SBS Sec. 5): one σ everywhere."""
    counts = np.array([f * c for f, c in shapes], dtype=np.float64)
    if config.rff_rule == "network":
        return np.full(counts.size, config.rff_sigma)
    return config.rff_sigma * np.sqrt(counts.mean() / counts)


def default_pe_levels(shapes: list[tuple[int, int]]) -> int:
    """Enough octaves that the finest one resolves neighbouring filters of the largest layer."""
    return max(1, math.ceil(math.log2(max(max(s) for s in shapes))))


def build_predictor(config: NernConfig, signal: KernelSignal) -> CoordinateMLP:
    with SEEDED_DRAWS:  # the global generator, seeded: one build at a time (methods.registry)
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        if config.encoding == "pe":
            encoding = PositionalEncoding(3, config.pe_levels or default_pe_levels(signal.shapes))
        else:
            encoding = LayerwiseFourierFeatures(config.rff_features, layer_sigmas(config, signal.shapes), generator)
        return CoordinateMLP(3, KERNEL_SIZE, config.hidden, config.depth, lambda i: nn.ReLU(), encoding=encoding)


def compression_ratio(config: NernConfig, signal: KernelSignal | None = None, cnn: nn.Module | None = None) -> float:
    """CR = MLP parameters / CNN parameters (SBS Sec. 5.1), as a fraction."""
    if cnn is None:
        cnn, _ = load_cnn(config.checkpoint or None)
    signal = signal or kernel_signal(cnn, "none")
    return count_parameters(build_predictor(config, signal)) / count_model_parameters(cnn)


def _ratio_by_width(config: NernConfig, signal: KernelSignal, cnn: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """(hidden widths 2..1024, the CR each gives) for this encoding and depth."""
    widths = np.arange(2, 1025)
    encoded = build_predictor(config.replace(hidden=2), signal).encoding
    enc_dim = getattr(encoded, "out_dim", 3)
    params = enc_dim * widths + widths + (config.depth - 1) * (widths ** 2 + widths) + KERNEL_SIZE * (widths + 1)
    return widths, params / count_model_parameters(cnn)


def hidden_for_ratio(ratio: float, config: NernConfig, signal: KernelSignal, cnn: nn.Module) -> int:
    """The hidden width whose CR is closest to `ratio` (for sweeps by CR)."""
    widths, ratios = _ratio_by_width(config, signal, cnn)
    return int(widths[np.argmin(np.abs(ratios - ratio))])


def check_compresses(config: NernConfig, signal: KernelSignal, cnn: nn.Module) -> float:
    """The CR, refused above 100%: a predictor larger than the CNN compresses nothing."""
    cr = count_parameters(build_predictor(config, signal)) / count_model_parameters(cnn)
    if cr > 1.0:
        widths, ratios = _ratio_by_width(config, signal, cnn)
        largest = int(widths[ratios <= 1.0].max()) if (ratios <= 1.0).any() else 2
        raise ConfigError(f"hidden {config.hidden} gives CR {100 * cr:.0f}%: the predictor would be larger than the "
                          f"CNN and compress nothing; choose hidden ≤ {largest} (CR ≤ 100%)")
    return cr


# ----------------------------------------------------------------------------------------------
# Diagnostics of the kernel signal
# ----------------------------------------------------------------------------------------------
def ordering_report(model: nn.Module, orderings=ORDERINGS, seed: int = 0) -> list[dict]:
    """For each ordering: S(w) (SBS Eq. 6, per direction) and the low-frequency energy share of
    the largest layer (SBS Fig. 2B), with the time the ordering took."""
    rows = []
    for name in orderings:
        start = time.perf_counter()
        signal = kernel_signal(model, name, seed=seed)
        seconds = time.perf_counter() - start
        grids = signal.grids()
        s = network_smoothness(grids)
        largest = int(np.argmax([f * c for f, c in signal.shapes]))
        rows.append({"ordering": name, "S_total": s["total"], "S_filter": s["filter"], "S_channel": s["channel"],
                     "S_layer": s["layer"], "low_freq_energy": low_frequency_energy(grids[largest]),
                     "seconds": seconds})
    return rows


def layer_spectra(signal: KernelSignal, layer: int | None = None) -> dict:
    """2D magnitude spectra (SBS Fig. 2B) of one layer in the CNN's order and smoothed order."""
    layer = int(np.argmax([f * c for f, c in signal.shapes])) if layer is None else layer
    smoothed = signal.grids()[layer]
    return {"layer": signal.names[layer], "original": grid_spectrum(signal.original[layer]),
            "smoothed": grid_spectrum(smoothed), "original_grid": signal.original[layer],
            "smoothed_grid": smoothed}


def ntk_points(signal: KernelSignal, max_points: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Row indices of a window of the largest layer's grid, ≤ max_points kernels, filters ×
    channels in grid order, so the eNTK's eigenvectors have a 2D frequency."""
    layer = int(np.argmax([f * c for f, c in signal.shapes]))
    f, c = signal.shapes[layer]
    side_c = min(c, int(math.isqrt(max_points)))
    side_f = min(f, max_points // side_c)
    rows = np.arange(side_f)[:, None] * c + np.arange(side_c)[None, :]
    return signal.offsets()[layer] + rows.reshape(-1), (side_f, side_c)


def kernel_ntk(model: nn.Module, signal: KernelSignal, unsmoothed: KernelSignal, max_points: int,
               prediction: np.ndarray | None = None) -> tuple[NTKResult, np.ndarray]:
    """eNTK on a window of the largest layer; projections of the smoothed target (the result)
    and of the same window of the unsmoothed kernels (returned alongside): SBS Fig. 2 D–F."""
    start = time.perf_counter()
    index, grid = ntk_points(signal, max_points)
    device = next(model.parameters()).device
    kernel = empirical_ntk(model, torch.as_tensor(signal.coords[index], device=device))
    result = analyse_kernel(kernel, grid, signal.values[index], None if prediction is None else prediction[index],
                            keep_eigenvectors=True, seconds=time.perf_counter() - start)
    result.layout = "window"
    result.note = "sum-of-outputs eNTK over the 9 kernel values, on a window of the largest layer"
    target = unsmoothed.values[index]
    unsmoothed_projections = np.sqrt(((result.eigenvectors.T @ target) ** 2).sum(axis=1))
    result.eigenvectors = None
    return result, unsmoothed_projections


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
@dataclass
class NernSnapshot:
    step: int
    loss: float  # L_recon, on the fitted (per-layer normalised) values
    mse: float  # MSE to the original kernels, in the CNN's units
    psnr: float  # kernel PSNR, peak = max |w| of the original kernels
    seconds: float
    accuracy: float | None = None  # rebuilt CNN on the test split, in [0, 1]
    ntk: NTKResult | None = None
    unsmoothed_projections: np.ndarray | None = None
    prediction: np.ndarray | None = None  # (N, 9) in smoothed order, on eval steps


@dataclass
class NernResult:
    config: NernConfig
    cr: float
    mlp_parameters: int
    cnn_parameters: int
    original_accuracy: float
    accuracy: float
    mse: float
    psnr: float
    seconds: float
    steps: int
    stopped: bool = False

    def row(self) -> dict:
        c = self.config
        return {"smoothing": c.smoothing, "encoding": c.encoding, "sigma": c.rff_sigma if c.encoding == "rff" else "",
                "hidden": c.hidden, "CR_%": round(100 * self.cr, 2), "mlp_params": self.mlp_parameters,
                "kernel_mse": float(f"{self.mse:.4g}"), "kernel_psnr_dB": round(self.psnr, 2),
                "accuracy_%": round(100 * self.accuracy, 2), "original_accuracy_%": round(100 * self.original_accuracy, 2),
                "seconds": round(self.seconds, 1), "steps": self.steps}


def _attention(feature: torch.Tensor) -> torch.Tensor:
    """NeRN's attention map: Σ_c a_c² over channels, flattened and L2-normalised. (B, C, H, W) -> (B, H·W)."""
    return F.normalize(feature.pow(2).mean(dim=1).flatten(1), dim=1)


class NernRun:
    """Train a NeRN predictor; iterate `snapshots()` for live progress, `stop()` to end early."""

    def __init__(self, config: NernConfig, data: DigitsData | None = None):
        self.config = config
        self.device = pick_device(config.device)
        self.cnn, self.cnn_info = load_cnn(config.checkpoint or None)
        self.data = data or load_digits_data()
        self.signal = kernel_signal(self.cnn, config.smoothing, seed=config.seed, normalise=config.normalise)
        self.unsmoothed = (self.signal if config.smoothing == "none"
                           else kernel_signal(self.cnn, "none", normalise=config.normalise))
        check_compresses(config, self.signal, self.cnn)
        self.model = build_predictor(config, self.signal).to(self.device)
        self.cnn.to(self.device)
        self.peak = float(np.abs(self.signal.values * self.signal.row_scales()).max())
        self.row_scales = torch.as_tensor(self.signal.row_scales(), device=self.device)
        self.original_accuracy = accuracy(self.cnn, *self._test())
        self._stop = False
        self.history: list[NernSnapshot] = []
        self.result: NernResult | None = None

    def _test(self):
        return self.data.test_x.to(self.device), self.data.test_y.to(self.device)

    def stop(self) -> None:
        self._stop = True

    def rebuilt_accuracy(self, values: torch.Tensor) -> float:
        return accuracy(self.cnn, *self._test(), weights=self.signal.weights(values))

    def snapshots(self) -> Iterator[NernSnapshot]:
        config, device = self.config, self.device
        coords = torch.as_tensor(self.signal.coords, device=device)
        target = torch.as_tensor(self.signal.values, device=device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps, eta_min=config.lr * 0.01)
        generator = torch.Generator().manual_seed(config.seed)
        use_cnn_losses = config.feature_weight > 0 or config.kd_weight > 0
        train_x = self.data.train_x.to(device)
        if use_cnn_losses:  # the original CNN is fixed: its logits and features once, not every step
            with torch.no_grad():
                teacher_logits, teacher_features = self.cnn(train_x, return_features=True)
        start = time.perf_counter()
        step = 0
        while True:
            final = step >= config.steps or self._stop
            diagnose_ntk = bool(config.ntk_every) and (step % config.ntk_every == 0 or step == config.steps)
            evaluate = final or bool(config.eval_every and step % config.eval_every == 0)
            if step % config.log_every == 0 or final or diagnose_ntk or evaluate:
                snapshot = self._snapshot(step, coords, target, start, evaluate, diagnose_ntk)
                held = time.perf_counter()
                yield snapshot
                start += time.perf_counter() - held  # the consumer's (drawing, a recording paused): not training
            if final:
                break
            if self._stop:  # asked during the yield: go round once more for the final, evaluated snapshot
                continue
            self.model.train()
            prediction = self.model(coords)
            loss = F.mse_loss(prediction, target)  # L_recon (SBS Fig. 1)
            if use_cnn_losses and step >= config.warmup * config.steps:
                index = torch.randint(0, train_x.shape[0], (config.batch_images,), generator=generator).to(device)
                loss = loss + self._cnn_losses(prediction, train_x[index], teacher_logits[index],
                                               [features[index] for features in teacher_features])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
        last = self.history[-1]
        self.result = NernResult(config=config, cr=count_parameters(self.model) / count_model_parameters(self.cnn),
                                 mlp_parameters=count_parameters(self.model),
                                 cnn_parameters=count_model_parameters(self.cnn),
                                 original_accuracy=self.original_accuracy, accuracy=last.accuracy, mse=last.mse,
                                 psnr=last.psnr, seconds=last.seconds, steps=last.step, stopped=self._stop)

    def _cnn_losses(self, prediction: torch.Tensor, images: torch.Tensor, teacher_logits: torch.Tensor,
                    teacher_features: list[torch.Tensor]) -> torch.Tensor:
        """α L_atten + β L_KD between the original CNN (its outputs on `images` given) and the one
        rebuilt from `prediction`."""
        config = self.config
        student_logits, student_features = torch.func.functional_call(
            self.cnn, self.signal.weights(prediction), (images,), {"return_features": True}, strict=False)
        loss = prediction.new_zeros(())
        if config.feature_weight > 0:
            loss = loss + config.feature_weight * sum(
                F.mse_loss(_attention(s), _attention(t)) for s, t in zip(student_features, teacher_features))
        if config.kd_weight > 0:
            temperature = config.kd_temperature
            loss = loss + config.kd_weight * temperature ** 2 * F.kl_div(
                F.log_softmax(student_logits / temperature, dim=1), F.log_softmax(teacher_logits / temperature, dim=1),
                log_target=True, reduction="batchmean")
        return loss

    @torch.no_grad()
    def _snapshot(self, step, coords, target, start, evaluate, diagnose_ntk) -> NernSnapshot:
        self.model.eval()
        prediction = self.model(coords)
        if not torch.isfinite(prediction).all():
            raise FloatingPointError("the predictor produced NaN/Inf; lower the learning rate")
        loss = float(F.mse_loss(prediction, target))
        mse = float(F.mse_loss(prediction * self.row_scales, target * self.row_scales))  # in the CNN's units
        snapshot = NernSnapshot(step=step, loss=loss, mse=mse,
                                psnr=10 * math.log10(self.peak ** 2 / max(mse, 1e-30)),
                                seconds=time.perf_counter() - start)
        if evaluate:
            snapshot.accuracy = self.rebuilt_accuracy(prediction)
            snapshot.prediction = prediction.cpu().numpy()
        if diagnose_ntk:
            host = prediction.cpu().numpy()
            snapshot.ntk, snapshot.unsmoothed_projections = kernel_ntk(
                self.model, self.signal, self.unsmoothed, self.config.ntk_points, host)
        self.history.append(snapshot)
        return snapshot


def fit_nern(config: NernConfig, data: DigitsData | None = None) -> NernResult:
    run = NernRun(config, data)
    for _ in run.snapshots():
        pass
    return run.result


def sweep(base: NernConfig, settings: list[str], hiddens: list[int] | None = None, crs: list[float] | None = None,
          progress=None, seeds: list[int] | None = None) -> list[dict]:
    """Accuracy vs CR (SBS Fig. 5): one run per (setting, hidden width, seed), or per (setting,
    target CR, seed) with the hidden width whose CR is closest (so settings are compared at equal
    CR). Every width is checked (CR ≤ 100%) before the first run trains."""
    data, rows = load_digits_data(), []
    cnn, _ = load_cnn(base.checkpoint or None)
    signal = kernel_signal(cnn, "none")
    plan = []
    for setting in settings:
        config = base.replace(**dict(zip(("encoding", "smoothing", "rff_rule"), SETTINGS[setting])))
        widths = ([hidden_for_ratio(cr / 100, config, signal, cnn) for cr in crs] if crs else list(hiddens or []))
        for hidden in widths:
            check_compresses(config.replace(hidden=hidden), signal, cnn)
            plan += [(setting, config.replace(hidden=hidden, seed=seed)) for seed in (seeds or [base.seed])]
    for setting, config in plan:
        result = fit_nern(config, data)
        row = {"setting": setting, "seed": config.seed, **result.row()}
        rows.append(row)
        if progress:
            progress(row)
    return rows


def summarise_sweep(rows: list[dict]) -> list[dict]:
    """Mean ± std over seeds per (setting, hidden): accuracy and kernel PSNR, with n and the
    interval [mean − std, mean + std] that rankings are read from."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["setting"], row["hidden"]), []).append(row)
    summary = []
    for (setting, hidden), group in groups.items():
        accuracy = np.array([r["accuracy_%"] for r in group], dtype=float)
        psnr = np.array([r["kernel_psnr_dB"] for r in group], dtype=float)
        summary.append({"setting": setting, "hidden": hidden, "CR_%": group[0]["CR_%"], "seeds": len(group),
                        "accuracy_%": f"{accuracy.mean():.1f} ± {accuracy.std():.1f}",
                        "accuracy_min_%": round(float(accuracy.min()), 1),
                        "kernel_psnr_dB": f"{psnr.mean():.2f} ± {psnr.std():.2f}",
                        "mean": float(accuracy.mean()), "std": float(accuracy.std())})
    return summary


def rankings(summary: list[dict]) -> list[str]:
    """Per CR (the i-th width of each setting): which setting is ahead, stated only where the
    mean ± std intervals separate; otherwise 'no ranking'."""
    by_setting: dict[str, list[dict]] = {}
    for row in summary:
        by_setting.setdefault(row["setting"], []).append(row)
    if len(by_setting) < 2:
        return []
    lines = []
    for column in zip(*by_setting.values()):
        ordered = sorted(column, key=lambda r: r["mean"], reverse=True)
        first, second = ordered[0], ordered[1]
        crs = "/".join(f"{r['CR_%']:g}" for r in column)
        scores = ", ".join(f"{r['setting']} {r['accuracy_%']}%" for r in ordered)
        if first["mean"] - first["std"] > second["mean"] + second["std"]:
            lines.append(f"CR {crs}%: {first['setting']} ahead ({scores}; mean ± std intervals separate)")
        else:
            lines.append(f"CR {crs}%: no ranking ({scores}; mean ± std intervals overlap)")
    return lines
