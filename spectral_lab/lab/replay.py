"""Replay: each method's memory-capped history of what its panels show, and the state of every
panel at any step — so a slider can scrub a run (during and after it), play it, or export it as
an animated GIF for slides.

History per method and kind (reconstruction, eNTK, error map, activations): at most
HISTORY_LIMIT checkpoints; when full, every other one is dropped (the first and the latest kept),
so a long run keeps an even spread. Predictions are kept in float16 and their count is also
capped so a comparison's replay holds at most HISTORY_BYTES. Band errors and curves are small and
kept whole.

Over the server, `Replays` keeps each tab's last comparison and charges their histories to one
budget (lab/budget.py, SPECTRAL_LAB_REPLAYS_MB): past it, the least recently used finished
comparison's history is dropped (its end stays on screen, its table and downloads still work), and
scrubbing it says so in one line (REPLAY_GONE) instead of showing nothing.
"""
from __future__ import annotations

import copy
import io
import threading
from pathlib import Path

import numpy as np

from ..metrics import psnr_from_mse
from .budget import ByteBudget
from .frame import Frame
from .recordings import size_of

HISTORY_LIMIT = 50  # checkpoints per method and kind
HISTORY_BYTES = 64 * 2**20  # predictions of a whole comparison


def keep(history: list, step: int, value, limit: int = HISTORY_LIMIT) -> None:
    """Append (step, value); past `limit`, drop every other checkpoint but the first and the latest."""
    if history and history[-1][0] == step:
        history[-1] = (step, value)  # the final snapshot repeats the last logged step
    else:
        history.append((step, value))
    if len(history) > limit:
        del history[1:-1:2]


def prediction_limit(values: int, methods: int) -> int:
    """How many float16 predictions of `values` numbers each of `methods` methods may keep."""
    per_method = HISTORY_BYTES // max(1, methods) // max(1, 2 * values)
    return int(np.clip(per_method, 8, HISTORY_LIMIT))


def latest(history: list, step: int):
    """The value of the last checkpoint at or before `step` (None before the first)."""
    value = None
    for seen, item in history:
        if seen > step:
            break
        value = item
    return value


def view_at(view, step: int):
    """A copy of a MethodView as it stood at `step`: its fit, eNTK, error map, activations, band
    columns and curves (a task's held-out one too) up to then, and its PSNR then (from the training loss; at a finished
    method's last step, its final PSNR, the table's)."""
    past = copy.copy(view)
    prediction = latest(view.predictions, step)
    past.prediction = None if prediction is None else prediction.astype(np.float32)
    trained = latest([(s, r) for s, r in view.ntk_history if s > 0], step)
    past.ntk = {k: v for k, v in (("init", view.ntk.get("init")), ("now", trained)) if v is not None}
    past.error_map = latest(view.error_history, step)
    past.activations = latest(view.activation_history, step)
    keep_bands = [i for i, s in enumerate(view.band_steps) if s <= step]
    past.band_steps = [view.band_steps[i] for i in keep_bands]
    past.band_columns = [view.band_columns[i] for i in keep_bands]
    steps, losses = view.curve()
    seen = steps <= step
    past.curve_steps, past.curve_losses = ([steps[seen]], [losses[seen]]) if seen.any() else ([], [])
    if step >= view.step and view.row is not None:  # the end: the final (kept) parameters, as the table says
        past.psnr = view.psnr
    else:  # the training loss at the last logged step: the parameters before that step's update
        past.psnr = psnr_from_mse(float(losses[seen][-1])) if seen.any() and losses[seen][-1] > 0 else None
    past.psnr_limit = None if step < view.step else view.psnr_limit
    shown = [i for i, s in enumerate(view.heldout_steps) if s <= step]  # a task's held-out curve up to then
    past.heldout_steps = [view.heldout_steps[i] for i in shown]
    past.heldout_psnrs = [view.heldout_psnrs[i] for i in shown]
    past.heldout = past.heldout_psnrs[-1] if shown else None
    past.step = min(step, view.step)
    return past


def checkpoint_steps(views) -> list[int]:
    """Every step at which some method has a reconstruction to show (the replay's frames)."""
    return sorted({s for v in views for s, _ in v.predictions})


def gallery_gif(comparison, path: str | Path, max_frames: int = 40, seconds_per_frame: float = 0.25) -> Path:
    """The run as an animated GIF: for images the target and every method's fit side by side, for
    1D and audio the fit-vs-target panels (drawn with matplotlib), one frame per checkpoint."""
    from PIL import Image, ImageDraw

    steps = checkpoint_steps(comparison.views)
    if not steps:
        raise ValueError("nothing to replay yet: no method has a reconstruction")
    picks = np.unique(np.linspace(0, len(steps) - 1, min(max_frames, len(steps))).round().astype(int))
    steps = [steps[i] for i in picks]  # at most max_frames, evenly spread
    frames = []
    for step in steps:
        views = [view_at(v, step) for v in comparison.views]
        if comparison.signal.kind == "image":
            tiles = comparison.gallery(views, minimum=160)
            height = max(t.shape[0] for t, _ in tiles)
            # a line for the step, a line of labels, then the tiles side by side
            canvas = Image.new("RGB", (sum(t.shape[1] for t, _ in tiles) + 8 * (len(tiles) - 1), height + 40), "white")
            draw, x = ImageDraw.Draw(canvas), 0
            draw.text((4, 4), f"step {step}", fill="black")
            for tile, label in tiles:
                canvas.paste(Image.fromarray(tile).convert("RGB"), (x, 40))
                draw.text((x + 4, 22), label, fill="black")
                x += tile.shape[1] + 8
            frames.append(canvas)
        else:
            from .. import plots

            spec = comparison.reconstruction_spec(views, f"Fit vs target at step {step}")
            figure = plots.render(spec, "matplotlib")
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=80)
            figure.clear()
            frames.append(Image.open(buffer).convert("RGB"))
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(seconds_per_frame * 1000), loop=0)
    return path


HISTORIES = ("predictions", "ntk_history", "error_history", "activation_history")  # what a replay keeps per method
REPLAY_GONE = ("ⓘ This run's replay is no longer kept: the server's memory for replays went to newer runs "
               "(the end of the run is still shown). Press **Train** to run it again.")


def history_bytes(views) -> int:
    """Bytes of the replay histories of a comparison's views (what the budget charges)."""
    return sum(size_of(getattr(view, name)) for view in views for name in HISTORIES)


def drop_history(views) -> None:
    """Forget the replay of these views, keeping their latest state (the panels' end of the run)."""
    for view in views:
        for name in HISTORIES:
            setattr(view, name, [])


class ReplayGone:
    """A comparison whose history was evicted, as the replay callbacks see it: every attribute is the
    comparison's, but a frame at any step is one line saying why there is nothing to scrub."""

    def __init__(self, comparison):
        object.__setattr__(self, "comparison", comparison)

    def __getattr__(self, name):
        return getattr(self.comparison, name)

    def __setattr__(self, name, value):
        setattr(self.comparison, name, value)

    def frame_at(self, step: int, panels=None):
        return Frame(status=REPLAY_GONE, step=step)


class Replays:
    """session -> its last comparison (the replay slider, the details and downloads read it). Their
    replay histories share one byte budget; a comparison still training is never evicted (its own
    history is capped by HISTORY_BYTES). Reads as a dict: `replays[session] = live`, `.get`, `.pop`."""

    def __init__(self, budget: ByteBudget | None = None):
        self.budget = ByteBudget("replays") if budget is None else budget
        self._lock = threading.Lock()
        self._comparisons: dict[str, object] = {}
        self._gone: set[str] = set()  # sessions whose comparison's history was evicted

    def __setitem__(self, session: str, comparison) -> None:
        with self._lock:
            self._comparisons[session] = comparison
            self._gone.discard(session)
        self._refresh()  # the others' histories grew since they were charged
        self._charge(session, comparison)

    def get(self, session: str, default=None):
        """The session's comparison (its use makes it the most recently used), or a ReplayGone."""
        with self._lock:
            comparison = self._comparisons.get(session)
            gone = session in self._gone
        if comparison is None:
            return default
        if gone:
            return ReplayGone(comparison)
        self._charge(session, comparison)
        return comparison

    def pop(self, session: str, default=None):
        with self._lock:
            comparison = self._comparisons.pop(session, default)
            self._gone.discard(session)
        self.budget.release(session)
        return comparison

    def __contains__(self, session: str) -> bool:
        return session in self._comparisons

    def __len__(self) -> int:
        return len(self._comparisons)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._comparisons)

    @property
    def nbytes(self) -> int:
        return self.budget.nbytes

    def _charge(self, session: str, comparison) -> None:
        if getattr(comparison, "recorded", False):  # a recording's history: held (and charged) once, by recordings.py
            self.budget.release(session)
            return
        self.budget.charge(session, history_bytes(comparison.views), on_evict=lambda: self._evict(session, comparison),
                           pinned=lambda: not comparison.stopping)

    def _refresh(self) -> None:
        with self._lock:
            held = [(s, c) for s, c in self._comparisons.items() if s not in self._gone]
        for session, comparison in held:
            if getattr(comparison, "recorded", False):
                continue
            self.budget.resize(session, history_bytes(comparison.views))

    def _evict(self, session: str, comparison) -> None:
        with self._lock:
            if self._comparisons.get(session) is not comparison:
                return
            self._gone.add(session)
        drop_history(comparison.views)


__all__ = ["HISTORY_BYTES", "HISTORY_LIMIT", "checkpoint_steps", "gallery_gif", "keep", "latest", "prediction_limit",
           "view_at", "REPLAY_GONE", "ReplayGone", "Replays", "drop_history", "history_bytes"]
