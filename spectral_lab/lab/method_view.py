"""One method's side of a live comparison: what its panels show now, and its capped history for
the replay (replay.keep). Training updates fold in here; figures are drawn elsewhere (figures.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics import psnr_text
from .replay import keep
from .variants import display_name


@dataclass
class MethodView:
    method: str
    index: int
    status: str = "waiting"  # waiting | tuning | running | finished | stopped | diverged | failed | not run
    message: str = ""
    note: str = ""
    step: int = 0
    total_steps: int = 0
    psnr: float | None = None
    best_psnr: float | None = None
    psnr_limit: float | None = None  # the final fit's float32 limit (metrics["float32_limit_psnr"])
    steps_per_s: float = 0.0
    diagnostics_seconds: float = 0.0  # the run's time on diagnostics so far
    curve_steps: list = field(default_factory=list)
    curve_losses: list = field(default_factory=list)
    prediction: np.ndarray | None = None
    ntk: dict = field(default_factory=dict)  # "init" / "now" -> NTKResult
    activations: list | None = None
    error_map: object = None
    heldout_steps: list = field(default_factory=list)  # a task holding samples out: (step, held-out PSNR dB)
    heldout_psnrs: list = field(default_factory=list)
    heldout: float | None = None  # the latest held-out reading (None: a fit, or none yet)
    band_steps: list = field(default_factory=list)
    band_columns: list = field(default_factory=list)
    band_edges: np.ndarray | None = None
    row: dict | None = None
    metrics: dict = field(default_factory=dict)  # the final snapshot's (zero-output PSNR, float32 limit, ...)
    # replay history, (step, value) per checkpoint, capped (replay.keep)
    predictions: list = field(default_factory=list)  # float16 copies
    ntk_history: list = field(default_factory=list)
    error_history: list = field(default_factory=list)
    activation_history: list = field(default_factory=list)
    elapsed: list = field(default_factory=list)  # (step, seconds of training): the curves' time axis

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.curve_steps:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate(self.curve_steps), np.concatenate(self.curve_losses)

    def heldout_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, held-out PSNR dB) of a task that holds samples out (tasks.py); empty for a fit."""
        return np.asarray(self.heldout_steps, dtype=int), np.asarray(self.heldout_psnrs, dtype=np.float64)

    def bands(self):
        return np.array(self.band_steps), self.band_edges, np.stack(self.band_columns, axis=1)

    @property
    def label(self) -> str:
        """'siren · 26.4 dB' (a variant by its display name, 'siren ω₀=90 · 20.1 dB'); for a task that holds
        samples out, the latest held-out reading (at the end the final one, the table's)."""
        name, score = display_name(self.method), self.heldout if self.heldout is not None else self.psnr
        return f"{name} · {psnr_text(score, self.psnr_limit, 1)}" if score is not None else name

    def apply(self, snapshot, row: dict | None, prediction_limit: int) -> set[str]:
        """Fold a training snapshot in; returns the heavy panels whose data changed (and "audio"
        when the fit changed, "done" when this was the method's last snapshot)."""
        changed = set()
        self.step, self.total_steps = snapshot.step, snapshot.total_steps
        keep(self.elapsed, snapshot.step, snapshot.elapsed, limit=10**6)
        self.psnr, self.best_psnr, self.steps_per_s = snapshot.psnr, snapshot.best_psnr, snapshot.steps_per_s
        self.diagnostics_seconds = snapshot.diagnostics_seconds
        if snapshot.steps.size:
            self.curve_steps.append(snapshot.steps)
            self.curve_losses.append(snapshot.losses)
        if snapshot.heldout_psnr is not None:  # the final snapshot's: the kept parameters' score
            self._add_heldout(snapshot.step, snapshot.heldout_psnr)
        if snapshot.prediction is not None:
            self.prediction = snapshot.prediction
            keep(self.predictions, snapshot.step, snapshot.prediction.astype(np.float16), prediction_limit)
            changed |= {"reconstruction", "audio"}
        changed |= self._apply_diagnostics(snapshot.step, snapshot.diagnostics)
        if snapshot.done:
            self.status, self.message, self.row = snapshot.status, snapshot.message, row
            self.psnr = snapshot.metrics.get("psnr", self.psnr)
            self.psnr_limit = snapshot.metrics.get("float32_limit_psnr")
            self.metrics = dict(snapshot.metrics)
            changed.add("done")
        return changed

    def _add_heldout(self, step: int, value: float) -> None:
        """One held-out reading; a stopped run's final one may repeat the last logged step: it replaces it."""
        if self.heldout_steps and self.heldout_steps[-1] == step:
            self.heldout_psnrs[-1] = value
        else:
            self.heldout_steps.append(step)
            self.heldout_psnrs.append(value)
        self.heldout = value

    def _apply_diagnostics(self, step: int, diagnostics: dict) -> set[str]:
        changed = set()
        if "ntk" in diagnostics:
            self.ntk["init" if step == 0 else "now"] = diagnostics["ntk"]
            keep(self.ntk_history, step, diagnostics["ntk"])
            changed |= {"ntk", "details"}
        if "activations" in diagnostics:
            self.activations = diagnostics["activations"]
            keep(self.activation_history, step, diagnostics["activations"])
            changed.add("details")
        if "error_map" in diagnostics:
            self.error_map = diagnostics["error_map"]
            keep(self.error_history, step, diagnostics["error_map"])
            changed.add("errors")
        if "band_error" in diagnostics:
            self.band_edges = diagnostics["band_error"][0]
            self.band_steps.append(step)
            self.band_columns.append(diagnostics["band_error"][1])
            changed.add("bands")
        return changed
