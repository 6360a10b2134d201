"""Guided lessons: six short lessons that mirror the notebooks. Each is data (plain words, a
*predict first* question, the settings its button trains, follow-up experiments) plus a takeaway
written from the run's own numbers — never a canned sentence: a run that does not show the
lesson's point says so (tests/test_lessons.py runs each lesson and a broken run of it).

    lesson = LESSONS["spectral-bias"]
    config, methods = lesson_settings(lesson)
    ... train them (the app streams a LiveComparison) ...
    result = lesson_takeaway(lesson, comparison.views, prediction=1)
    result.text      # "relu brought the bands below 8 cycles under 50 % error by step 130; ..."
    result.supports  # the choice the run supports (None: the run does not settle it)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import urlencode

import numpy as np

from ..config import RunConfig
from ..metrics import ZERO_OUTPUT_MARGIN_DB, psnr_from_mse, psnr_text
from .links import parse_share_query, share_tune

LEARNED = 0.5  # a band counts as learned once its relative error Δ (IGA Eq. 7) is below this


@dataclass(frozen=True)
class FollowUp:
    label: str  # what to try, in a few words
    query: str  # its settings, as a share link's query (opens the full lab and trains)


@dataclass(frozen=True)
class Takeaway:
    text: str  # Markdown, with the run's numbers
    supports: int | None  # index of the choice the run supports; None when it does not settle it


@dataclass(frozen=True)
class Lesson:
    key: str  # the deep link: ?lesson=<key> or ?lesson=<number>
    number: int
    title: str
    text: str  # three short lines of plain words
    question: str  # predict first, answered before the run
    choices: tuple[str, ...]
    expected: int  # the choice the lesson's own settings show (checked by the tests)
    query: str  # what the button trains (share-link query); "" for the CNN lesson (NeRN settings)
    followups: tuple[FollowUp, ...]
    takeaway: Callable[..., Takeaway]  # (views) -> Takeaway; the CNN lesson: (result, spectra)
    kind: str = "signals"  # "signals" (LiveComparison) or "nern" (a NeRN predictor)


# ----------------------------------------------------------------------------------------------
# Reading a run: band errors, PSNR at a step, the eNTK's fast directions
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BandReading:
    """One method's band errors split into its lowest and highest third of bands with target energy."""

    steps: np.ndarray
    low_top: float  # upper edge of the low third (cycles across the signal)
    high_bottom: float  # lower edge of the high third
    low: np.ndarray  # mean Δ of the low third per logged step
    high: np.ndarray  # mean Δ of the high third per logged step
    learned_below: float  # every band with target energy below this edge ended under LEARNED (0: none did)
    learned_by: int | None  # the first logged step at which all of those were under LEARNED


def read_bands(view) -> BandReading | None:
    if not view.band_columns:
        return None
    steps, edges, columns = view.bands()  # columns: (bands, steps); NaN where the target has no energy
    energetic = np.flatnonzero(np.isfinite(columns[:, -1]))
    if energetic.size < 3:
        return None
    third = max(1, energetic.size // 3)
    low, high = energetic[:third], energetic[-third:]
    # the run of lowest bands that all ended learned, and when the last of them got there
    unlearned = np.flatnonzero(columns[energetic, -1] >= LEARNED)
    learned = energetic[:unlearned[0]] if unlearned.size else energetic
    learned_below, learned_by = 0.0, None
    if learned.size:
        learned_below = float(edges[learned[-1] + 1])
        all_below = np.flatnonzero((columns[learned] < LEARNED).all(axis=0))
        learned_by = int(np.asarray(steps)[all_below[0]]) if all_below.size else None
    return BandReading(np.asarray(steps), float(edges[low[-1] + 1]), float(edges[high[0]]),
                       np.nanmean(columns[low], axis=0), np.nanmean(columns[high], axis=0), learned_below, learned_by)


def final_psnr(view) -> float | None:
    return view.psnr


def _db(view) -> str:
    """The final PSNR as the gallery labels write it."""
    return psnr_text(view.psnr, view.psnr_limit, 1)


def psnr_at(view, step: int) -> float | None:
    """PSNR (R = 2) of the training loss at the last logged step ≤ `step`."""
    steps, losses = view.curve()
    seen = np.flatnonzero(steps <= step)
    if not seen.size or losses[seen[-1]] <= 0:
        return None
    return psnr_from_mse(float(losses[seen[-1]]))


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def _step(step: int | None) -> str:
    return f"by step {step}" if step is not None else "not by the end"


def _by_method(views) -> dict:
    return {v.method: v for v in views if v.row and v.row.get("psnr_db") is not None}


def _pair(views, first: str, second: str, names: str):
    """The two finished methods a lesson compares, or a Takeaway saying one is missing."""
    done = _by_method(views)
    if first not in done or second not in done:
        return Takeaway(f"This lesson needs both {names} to finish.", None)
    return done[first], done[second]


# ----------------------------------------------------------------------------------------------
# Takeaways, one per lesson
# ----------------------------------------------------------------------------------------------
def spectral_bias_takeaway(views) -> Takeaway:
    """Lesson 1: the first method (ReLU) learns its low bands first; the others, how far they get."""
    done = _by_method(views)
    if not done:
        return Takeaway("No method finished, so there is nothing to read yet.", None)
    first, *others = done.values()
    bands = read_bands(first)
    if bands is None:
        return Takeaway("The run logged too few bands to read.", None)
    end = int(bands.steps[-1])
    gap = bands.high[-1] - bands.low[-1]
    supports = 1 if gap > 0.2 else 0 if gap < -0.2 else 2
    learned = (f"brought every band below {bands.learned_below:.0f} cycles under {_pct(LEARNED)} error "
               f"{_step(bands.learned_by)}" if bands.learned_below else f"brought no band under {_pct(LEARNED)} error")
    text = (f"**{first.method}** {learned}; its bands above {bands.high_bottom:.0f} cycles were still at "
            f"{_pct(bands.high[-1])} error at step {end} on average (those below {bands.low_top:.0f} cycles at "
            f"{_pct(bands.low[-1])}).")
    if supports == 1:
        text += " Low frequencies first, high ones last: **spectral bias**."
    elif supports == 2:
        text += " Here the low and high bands moved together: this run does not show spectral bias."
    else:
        text += " Here the high bands went first: not the usual spectral bias."
    for view in others:
        other = read_bands(view)
        if other is not None:
            text += (f" **{view.method}** left its high bands at {_pct(other.high[-1])} "
                     f"({_db(view)} vs {_db(first)}).")
    return Takeaway(text, supports)


def _fast_share(result, energies: np.ndarray) -> float:
    """Share of `energies` (one per eigen-direction) on the fast directions: λ ≥ λ₁/100."""
    fast = result.eigenvalues >= result.eigenvalues[0] / 100
    return float(energies[fast].sum() / max(energies.sum(), 1e-300))


def ntk_takeaway(views) -> Takeaway:
    """Lesson 2: what is fitted first lies along the eNTK's large-eigenvalue directions."""
    done = [v for v in _by_method(views).values() if v.ntk.get("now") is not None]
    if not done:
        return Takeaway("No method finished with an eNTK to read.", None)
    parts, supports = [], None
    for i, view in enumerate(done):
        kernel = view.ntk["now"]  # the trained network's kernel and its eigenvectors
        target = kernel.target_projections ** 2
        residual = kernel.residual_projections ** 2 if kernel.residual_projections is not None else target
        fast = kernel.eigenvalues >= kernel.eigenvalues[0] / 100
        fitted_fast = 1 - residual[fast].sum() / max(target[fast].sum(), 1e-300)
        fitted_slow = 1 - residual[~fast].sum() / max(target[~fast].sum(), 1e-300)
        if i == 0:
            supports = 0 if fitted_fast > fitted_slow + 0.2 else 1 if fitted_slow > fitted_fast + 0.2 else 2
        share = _fast_share(kernel, target)
        rest = f" and {_pct(max(fitted_slow, 0))} of the rest" if share < 0.99 else ", and the rest holds almost none"
        parts.append(f"**{view.method}** ({_db(view)}): {int(fast.sum())} fast directions (λ ≥ λ₁/100) hold "
                     f"{_pct(share)} of the target; it fitted {_pct(max(fitted_fast, 0))} of that part{rest}")
    text = "; ".join(parts) + "."
    if supports == 0:
        text += (" Gradient descent fits the target along the large-λ eigenvectors first: the eigenvalues set "
                 "the pace, and a kernel with more fast directions (slower decay) learns more in the same steps. "
                 "For these networks the fast eigenvectors are smooth, low-frequency patterns (S(k) shows where "
                 "each kernel's energy sits): spectral bias, seen from the kernel.")
    else:
        text += " In this run the fast directions were not fitted first: it does not show the kernel's pacing."
    return Takeaway(text, supports)


def bottleneck_takeaway(views) -> Takeaway:
    """Lesson 3: SIREN stays at the zero-output PSNR on a high-frequency target; SIREN² does not."""
    pair = _pair(views, "siren", "siren2", "SIREN and SIREN²")
    if isinstance(pair, Takeaway):
        return pair
    siren, siren2 = pair
    floor = siren.metrics.get("zero_output_psnr")
    if floor is None:
        return Takeaway("The run did not report the zero-output PSNR.", None)
    above = final_psnr(siren) - floor
    supports = None
    if final_psnr(siren2) - floor > 10:  # the contrast exists: SIREN² fitted it
        supports = 0 if above < ZERO_OUTPUT_MARGIN_DB else 2 if final_psnr(siren2) - final_psnr(siren) < 3 else 1
    text = (f"An all-zero output scores {floor:.1f} dB here. **SIREN** ended at {_db(siren)} "
            f"({above:+.1f} dB above it); **SIREN²** at {_db(siren2)}.")
    if supports == 0:
        text += (" SIREN's output stayed ≈ 0: at initialisation its kernel has almost no energy near Nyquist, "
                 "so gradient descent cannot move it there — the **spectral bottleneck**. SIREN²'s noise "
                 "(WINNER Eq. 11) gives the first layer that frequency support.")
    elif supports is None:
        text += " SIREN² did not fit the target either, so this run does not show the bottleneck."
    return Takeaway(text, supports)


def damping_takeaway(views) -> Takeaway:
    """Lesson 4: SPDER's damped sine fits an image faster than SIREN."""
    pair = _pair(views, "siren", "spder", "SIREN and SPDER")
    if isinstance(pair, Takeaway):
        return pair
    siren, spder = pair
    early = max(1, int(spder.total_steps // 8))
    gap = final_psnr(spder) - final_psnr(siren)
    supports = 1 if gap > 1 else 0 if gap < -1 else 2
    text = (f"After {early} steps: SIREN {psnr_at(siren, early):.1f} dB, SPDER {psnr_at(spder, early):.1f} dB; "
            f"at the end ({spder.total_steps} steps): SIREN {_db(siren)}, SPDER {_db(spder)}.")
    siren_bands, spder_bands = read_bands(siren), read_bands(spder)
    if siren_bands is not None and spder_bands is not None:
        text += (f" High bands (above {spder_bands.high_bottom:.0f} cycles): SIREN {_pct(siren_bands.high[-1])} "
                 f"error, SPDER {_pct(spder_bands.high[-1])}.")
    if supports == 1:
        text += (" SPDER multiplies the sine by a damping √|x| (SPDER Eq. 1): the activation keeps growing away "
                 "from 0, and in these steps it fits far more of the image.")
    elif supports == 2:
        text += " The two ended within 1 dB: this run does not show SPDER's advantage."
    return Takeaway(text, supports)


def steering_takeaway(views) -> Takeaway:
    """Lesson 5: IGA brings the high bands down sooner than plain training at the same rate."""
    done = _by_method(views)
    plain = next((v for m, v in done.items() if "+" not in m), None)
    iga = next((v for m, v in done.items() if m.endswith("+iga")), None)
    if plain is None or iga is None:
        return Takeaway("This lesson needs the plain network and its +iga twin to finish.", None)
    plain_bands, iga_bands = read_bands(plain), read_bands(iga)
    if plain_bands is None or iga_bands is None:
        return Takeaway("The run logged too few bands to read.", None)
    high_gain = plain_bands.high[-1] - iga_bands.high[-1]
    low_gain = plain_bands.low[-1] - iga_bands.low[-1]
    supports = 0 if high_gain > max(0.05, low_gain) else 1 if low_gain > max(0.05, high_gain) else 2
    text = (f"High bands (above {iga_bands.high_bottom:.0f} cycles) at the end: **{plain.method}** "
            f"{_pct(plain_bands.high[-1])} error, **{iga.method}** {_pct(iga_bands.high[-1])}; low bands "
            f"{_pct(plain_bands.low[-1])} and {_pct(iga_bands.low[-1])}. PSNR {_db(plain)} vs {_db(iga)}.")
    for view in done.values():
        if view not in (plain, iga):
            text += f" {view.method}: {_db(view)}."
    if supports == 0:
        text += (" IGA evens out the eNTK's large eigenvalues (IGA Eq. 4–5), so the slow, high-frequency "
                 "directions move sooner: training is steered, not just sped up. (One shared learning rate; "
                 "tick *Tune* in the lab to compare each at its best.)")
    elif supports == 2:
        text += " IGA changed the bands about evenly in this run: it does not show the steering."
    return Takeaway(text, supports)


def cnn_weights_takeaway(result, low_share: dict[str, float]) -> Takeaway:
    """Lesson 6: smoothing moves a layer's kernels to low frequencies; a small MLP rebuilds the CNN.
    `result`: the NeRN predictor's result; `low_share`: energy share below 1/8 cycle per kernel,
    for the CNN's order ("original") and the smoothed one ("smoothed")."""
    original, smoothed = low_share["original"], low_share["smoothed"]
    gain = smoothed - original
    supports = 0 if gain > 0.05 else 1 if gain < -0.05 else 2
    text = (f"In the CNN's own order {_pct(original)} of the largest layer's kernel energy lies at low "
            f"frequencies (slower than one cycle per 8 neighbouring kernels); after smoothing {_pct(smoothed)}. "
            f"A ReLU MLP with "
            f"{result.mlp_parameters:,} parameters ({100 * result.cr:.1f} % of the CNN's) rebuilt every kernel "
            f"(kernel PSNR {result.psnr:.1f} dB), and the rebuilt CNN scores {100 * result.accuracy:.1f} % "
            f"(the original {100 * result.original_accuracy:.1f} %).")
    if supports == 0:
        text += (" Reordering changes nothing in the CNN — the order is stored and undone — but it turns the "
                 "weights into a smoother signal, which a spectrally biased MLP learns more easily (SBS Fig. 2).")
    return Takeaway(text, supports)


# ----------------------------------------------------------------------------------------------
# The six lessons
# ----------------------------------------------------------------------------------------------
def _query(pairs: dict, methods: Sequence[str]) -> str:
    return urlencode({**pairs, "methods": ",".join(methods)})


# the modifiers preset's settings
STEERING = {"signal": "camera", "image_size": 48, "steps": 300, "lr": 0.002, "lr_schedule": "exp"}
LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson("spectral-bias", 1, "What spectral bias is",
           "A coordinate MLP maps a pixel's position to its colour. Trained by gradient descent, it learns a "
           "picture's coarse shapes (low frequencies) long before its fine detail (high frequencies): that "
           "order is *spectral bias*. Three networks on the same image: plain ReLU, ReLU with a positional "
           "encoding, and SIREN (sine activations).",
           "Which frequency bands will plain ReLU learn last?",
           ("the lowest bands (coarse shapes)", "the highest bands (fine detail)", "all bands at the same pace"),
           1, _query({"signal": "camera", "image_size": 48, "steps": 200}, ("relu", "relu_pe", "siren")),
           (FollowUp("a wider ReLU: does width remove the bias?", _query(
               {"signal": "camera", "image_size": 48, "width": 512, "steps": 200}, ("relu",))),
            FollowUp("the same three on a 1D signal with three tones", _query(
                {"signal": "sines", "length": 2048, "steps": 300}, ("relu", "relu_pe", "siren"))),
            FollowUp("on audio: listen for the missing highs", _query(
                {"signal": "chip_melody", "length": 8000, "steps": 300}, ("relu_pe", "siren")))),
           spectral_bias_takeaway),
    Lesson("ntk", 2, "Why: the NTK's eigenvalues",
           "Near its initial weights a network trains like a kernel method with its empirical *neural tangent "
           "kernel* (eNTK) K: how much a step on one point moves the output at another. The error along K's "
           "eigenvector i shrinks like (1 − η·λᵢ)ᵗ after t steps at learning rate η: large-λ directions are "
           "fitted in a few steps, small-λ ones barely move. Two networks on a 1D signal, eNTK measured as they train.",
           "Which part of the target does gradient descent fit first?",
           ("the part along the eNTK's large-λ eigenvectors", "the part along its small-λ eigenvectors",
            "all parts at the same rate"),
           0, _query({"signal": "sines", "length": 1024, "steps": 300}, ("relu", "relu_pe")),
           (FollowUp("SIREN's kernel: more fast directions", _query(
               {"signal": "sines", "length": 1024, "steps": 300}, ("relu", "siren"))),
            FollowUp("more NTK points: a finer spectrum", _query(
                {"signal": "sines", "length": 1024, "steps": 300, "ntk_points": 1024}, ("relu", "relu_pe"))),
            FollowUp("the encodings compared on an image", _query(
                {"signal": "camera", "image_size": 64, "steps": 300}, ("relu", "relu_pe", "relu_rff")))),
           ntk_takeaway),
    Lesson("bottleneck", 3, "The spectral bottleneck and SIREN²",
           "A target made only of frequencies near the sampling limit (Nyquist). SIREN starts with almost no "
           "kernel energy there, so its output can stay at zero. SIREN² (WINNER) adds scaled noise to the "
           "first layers' weights at initialisation, which spreads its kernel's energy to high frequencies.",
           "Where will SIREN's PSNR end on this target?",
           ("at the PSNR of an all-zero output: it learns nothing", "halfway to SIREN²'s", "as high as SIREN²'s"),
           0, _query({"signal": "winner_high", "length": 4096, "width": 64, "steps": 300}, ("siren", "siren2")),
           (FollowUp("FINER between the two (broadband S6)", _query(
               {"signal": "broadband_s6", "length": 4096, "width": 64, "steps": 300}, ("siren", "finer", "siren2"))),
            FollowUp("audio: a bright chip melody", _query(
                {"signal": "chip_melody", "length": 8000, "steps": 300}, ("siren", "siren2"))),
            FollowUp("SIREN² without its noise on layer 2 (s₁ = 0)", _query(
                {"signal": "winner_high", "length": 4096, "width": 64, "steps": 300, "s1": 0}, ("siren", "siren2")))),
           bottleneck_takeaway),
    Lesson("damping", 4, "SPDER's damping",
           "SPDER keeps SIREN's sine but multiplies it by a slowly growing damping, sin(x)·√|x|. The activation "
           "is no longer bounded, and the paper reports image fits that converge in a fraction of SIREN's "
           "steps. SIREN and SPDER on the same image, same steps.",
           "In 200 steps on this image, which ends with the higher PSNR?",
           ("SIREN", "SPDER", "about the same (within 1 dB)"),
           1, _query({"signal": "camera", "image_size": 48, "steps": 200}, ("siren", "spder")),
           (FollowUp("a log damping instead of √|x|", _query(
               {"signal": "camera", "image_size": 64, "steps": 200, "damping": "log"}, ("siren", "spder"))),
            FollowUp("the same on audio", _query(
                {"signal": "chip_melody", "length": 8000, "steps": 300}, ("siren", "spder"))),
            FollowUp("each at its own best learning rate", _query(
                {"signal": "camera", "image_size": 64, "steps": 200, "tune": 1}, ("siren", "spder")))),
           damping_takeaway),
    Lesson("steering", 5, "Steering the dynamics: IGA, FR, BN",
           "The network stays the same; the training changes. IGA (inductive gradient adjustment) rescales the "
           "gradient along the eNTK's top eigenvectors so that slow directions move sooner. FR and BN are the "
           "paper's other two modifiers. A ReLU+PE network on the camera man (48²), with and without IGA (its "
           "adjustment rebuilt every 5 steps, not every step as in the paper, to keep the lesson short).",
           "IGA evens out the kernel's largest eigenvalues. Which bands will it help most?",
           ("the high bands, which plain training learns last", "the low bands",
            "none in particular: everything just moves faster"),
           0, _query({**STEERING, "iga_every": 5}, ("relu_pe", "relu_pe+iga")),
           (FollowUp("all three modifiers (IGA, FR, BN)", _query(
               STEERING, ("relu_pe", "relu_pe+iga", "relu_pe+fr", "relu_pe+bn"))),
            FollowUp("all three, each at its own best learning rate", _query(
                {**STEERING, "tune": 1}, ("relu_pe", "relu_pe+iga", "relu_pe+fr", "relu_pe+bn"))),
            FollowUp("IGA on plain ReLU: which bands now?", _query(STEERING, ("relu", "relu+iga")))),
           steering_takeaway),
    Lesson("cnn-weights", 6, "CNN weights as a signal (NeRN / SBS)",
           "A small CNN's 3×3 kernels, indexed by (layer, filter, channel), are a signal too: a ReLU MLP can "
           "learn them, and the CNN is rebuilt from its output. SBS reorders each layer's kernels so that "
           "neighbours are similar before the MLP sees them (the order is stored and undone).",
           "Reordering the kernels so neighbours are similar: what does it do to the signal the MLP learns?",
           ("moves its energy to low frequencies", "moves its energy to high frequencies",
            "nothing: the same values, equally hard"),
           0, "", (FollowUp("the same predictor without smoothing (the CNN's own order)",
                            "tab=nern&setting=sbs_plain&hidden=24&steps=1000"),
                   FollowUp("NeRN's setting: cosine ordering and positional encoding",
                            "tab=nern&setting=nern&hidden=24&steps=1000"),
                   FollowUp("a smaller predictor (CR 2.6 %): does the rebuilt CNN still work?",
                            "tab=nern&setting=sbs&hidden=16&steps=1000")),
           cnn_weights_takeaway, kind="nern"),
)}
BY_NUMBER = {lesson.number: lesson for lesson in LESSONS.values()}
FIRST_LESSON = "spectral-bias"
# The CNN lesson trains SBS's setting (UOS ordering + RFF) at a 4.6 % compression ratio: ~20 s on 2 CPU cores
CNN_LESSON_SETTINGS = {"smoothing": "uos", "encoding": "rff", "hidden": 24, "steps": 1000}


def kernel_low_share(spectra: dict) -> dict[str, float]:
    """Share of the largest layer's kernel energy below 1/8 cycle per kernel, in the CNN's order and
    smoothed (spectra: nern.layer_spectra)."""
    from ..nern.orderings import low_frequency_energy

    return {"original": low_frequency_energy(spectra["original_grid"]),
            "smoothed": low_frequency_energy(spectra["smoothed_grid"])}


def find_lesson(key: str | int | None) -> Lesson | None:
    """A lesson by key ("ntk") or number ("2"); None when there is none."""
    if key is None:
        return None
    text = str(key).strip().lower()
    if text.isdigit():
        return BY_NUMBER.get(int(text))
    return LESSONS.get(text)


def lesson_settings(lesson: Lesson, seed: int | None = None) -> tuple[RunConfig, list[str], bool]:
    """(config, methods, tune) the lesson's button trains; a teacher's link may pin the seed."""
    config, methods = parse_share_query(lesson.query)
    if seed is not None:
        config = config.replace(seed=int(seed))
    return config, methods, share_tune(lesson.query)


def lesson_comparison(lesson: Lesson, device_type: str = "cpu", seed: int | None = None, limits=None,
                      changes: dict | None = None, **kwargs):
    """The LiveComparison the lesson's button streams, at the app's cadences (`changes`: settings
    over the lesson's, as the tests' broken runs; `kwargs` go to LiveComparison)."""
    from .comparison import LiveComparison
    from .limits import AppLimits
    from .presets import with_app_cadence
    from .uploads import load_ui_signal

    config, methods, tune = lesson_settings(lesson, seed)
    config = config.replace(**(changes or {}))
    signal = load_ui_signal(config, None, limits or AppLimits())
    return LiveComparison(with_app_cadence(config, device_type), methods, signal, tune=tune, **kwargs)


def cnn_lesson_run(seed: int | None = None, **changes):
    """The CNN lesson's NeRN predictor (SBS's setting at a 4.6 % compression ratio), not yet trained."""
    from ..nern import NernConfig, NernRun

    settings = {**CNN_LESSON_SETTINGS, "seed": int(seed or 0), **changes}
    steps = settings["steps"]
    return NernRun(NernConfig(**settings, log_every=max(1, steps // 100), eval_every=max(1, steps // 5),
                              ntk_every=0))


def followup_link(value: str) -> tuple[str, str] | None:
    """`?followup=1.2` (lesson 1's second follow-up) -> (its settings query, a note naming it)."""
    number, _, index = str(value).partition(".")
    lesson = find_lesson(number)
    if lesson is None or not index.isdigit() or not 1 <= int(index) <= len(lesson.followups):
        return None
    followup = lesson.followups[int(index) - 1]
    return followup.query, (f"Lesson {lesson.number} ({lesson.title}), try next: {followup.label}. "
                            f"[Back to the lesson](?lesson={lesson.number})")


def expand_link(query: dict) -> tuple[dict, str]:
    """A link's query with a lesson's follow-up (`?followup=1.2`) expanded to its settings and
    `run=1` (it trains at once), and the note that names the follow-up ('' for other links).
    A CNN lesson's follow-up carries `tab=nern` and the NeRN tab's settings."""
    from urllib.parse import parse_qsl

    expanded = followup_link(query["followup"]) if "followup" in query else None
    if expanded is None:
        return dict(query), ""
    settings, note = expanded
    return {**dict(parse_qsl(settings)), "run": "1"}, note


def lesson_takeaway(lesson: Lesson, *run, prediction: int | None = None) -> Takeaway:
    """The lesson's takeaway from its run, with the student's prediction set against what the run shows."""
    result = lesson.takeaway(*run)
    if prediction is None or result.supports is None:
        return result
    said = lesson.choices[prediction]
    verdict = (f"You predicted “{said}”: the run agrees." if prediction == result.supports
               else f"You predicted “{said}”; the run shows “{lesson.choices[result.supports]}”.")
    return Takeaway(f"{verdict} {result.text}", result.supports)


__all__ = ["BY_NUMBER", "CNN_LESSON_SETTINGS", "FIRST_LESSON", "FollowUp", "LESSONS", "Lesson", "Takeaway",
           "cnn_lesson_run", "expand_link", "find_lesson", "followup_link", "kernel_low_share", "lesson_comparison",
           "lesson_settings", "lesson_takeaway", "psnr_at", "read_bands"]
