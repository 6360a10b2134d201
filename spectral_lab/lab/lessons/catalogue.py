"""The seven lessons (words, question, settings, follow-ups) and what runs them: the settings a
lesson's button trains, its LiveComparison or NeRN predictor, its follow-up links, and the
takeaway set against the student's prediction."""
from __future__ import annotations

from typing import Sequence
from urllib.parse import parse_qsl, urlencode

from ...config import RunConfig
from ..links import parse_share_query, share_tune
from .base import FollowUp, Lesson, Takeaway
from .bias import spectral_bias_takeaway
from .cnn import CnnLessonRun, cnn_weights_takeaway
from .denoising import denoising_takeaway
from .kernel import ntk_takeaway
from .names import symbols_markdown
from .periodic import bottleneck_takeaway, damping_takeaway
from .steering import steering_takeaway


def _query(pairs: dict, methods: Sequence[str]) -> str:
    return urlencode({**pairs, "methods": ",".join(methods)})


def _words(body: str, symbols: Sequence[str]) -> str:
    """The lesson's plain words, then each symbol it uses in one line."""
    return f"{body}\n\n{symbols_markdown(symbols)}"


# Lesson 1: one 48² image, 200 steps (~7 s on 2 CPU cores)
BIAS = {"signal": "camera", "image_size": 48, "steps": 200}
# Lesson 2: plain gradient descent on a wide one-layer network, the kernel on all N = 256 points. At
# lr 3e-4, η(2/N)λ₁ ≈ 0.43 for ReLU and 0.09 for ReLU + PE (seeds 0–2): stable, and the fast
# directions are fitted within the 200 steps (~5 s)
GRADIENT_DESCENT = {"signal": "sines", "length": 256, "signal_options": "freqs=2,8,24 amps=1,1,1", "width": 4096,
                    "depth": 1, "optimizer": "sgd", "lr_schedule": "constant", "lr": 3e-4, "steps": 200,
                    "ntk_points": 256}
# Lesson 2's follow-ups at width 512, a CPU server's limit: the kernel's scale grows with the width, so
# η × 8 keeps the lesson's η(2/N)λ (measured, seed 0: the fixed-kernel formula within 0.01 dB for ReLU, ReLU
# + PE and ReLU + RFF, as at 4096)
GRADIENT_DESCENT_512 = {**GRADIENT_DESCENT, "width": 512, "lr": 2.4e-3}
BOTTLENECK = {"signal": "winner_high", "length": 4096, "width": 64, "steps": 300}
DAMPING = {"signal": "camera", "image_size": 48, "steps": 200}
# Lesson 5: the modifiers preset's settings; IGA evens out 60 eigenvalues (the paper's `end` for PE is
# 20): at 20 its steering is 2–6 points per band at equal PSNR, within reach of plain training's own
# spread; at 60 it is 9–15 (steering.py). S̃ₑ rebuilt every 5 steps to keep the lesson ~6 s.
STEERING = {"signal": "camera", "image_size": 48, "steps": 300, "lr": 0.002, "lr_schedule": "exp"}
STEERING_IGA = {**STEERING, "iga_end": 60, "iga_every": 5}
# Lesson 6: SBS's predictor (UOS ordering + RFF, 4.6 % CR) on the reconstruction loss alone, and the same
# predictor on the CNN's own order in lockstep: ~10 s on 2 CPU cores (both fits level off by step 100).
# Distillation (NeRN/SBS's full loss) needs ≥ ~500 more steps at ~30 ms each before the accuracy moves,
# and then varies from run to run by tens of points (cnn.py): it is a follow-up, not the lesson's run.
# Lesson 7: the noisy camera man (σ 0.2: the noisy photo scores ~20 dB), 400 steps (~6 s on 2 CPU cores):
# both networks peak and turn down within the run on seeds 0–2 (denoising.py), ReLU + PE's fall the
# smaller, 1.7–2.6 dB
DENOISE = {"signal": "camera", "image_size": 48, "steps": 400, "task": "denoise", "noise_std": 0.2}
CNN_LESSON_SETTINGS = {"smoothing": "uos", "encoding": "rff", "hidden": 24, "steps": 300, "feature_weight": 0.0,
                       "kd_weight": 0.0}
CNN_TAB = "tab=nern&hidden=24&steps=300&feature_weight=0&kd_weight=0"  # the lesson's run, in the CNN tab's words

LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson("spectral-bias", 1, "What spectral bias is", _words(
        "A coordinate MLP maps a pixel's position to its colour. Trained by gradient descent, it learns a picture's "
        "coarse shapes (low frequencies) long before its fine detail (high frequencies): that order is *spectral "
        "bias*. Three networks on the same 48×48 image for 200 steps: plain ReLU, ReLU with a positional encoding "
        "(the coordinates also fed in as sines and cosines of rising frequency) and SIREN (sine activations). "
        "The takeaway reads *when* each network got its low and its high bands under 50 % error: a band learned "
        "late still moves; a band that never moves was not learned at all.", ("Δ", "band thirds", "cycles", "PSNR")),
           "Which frequency bands will these networks learn last?",
           ("the lowest bands (coarse shapes)", "the highest bands (fine detail)", "all bands at the same pace"),
           1, _query(BIAS, ("relu", "relu_pe", "siren")),
           (FollowUp("a 4× wider plain ReLU (width 512; the lesson's: 128) beside ReLU with a positional encoding "
                     "at the same width: does width remove the bias?",
                     _query({**BIAS, "width": 512}, ("relu", "relu_pe"))),
            # three tones in three of the 1D band thirds' 64-cycle bands (the default sines' tones share one
            # band with another: too few bands for the lesson to read)
            FollowUp("the same three on a 1D signal with three tones (10, 150 and 400 cycles)",
                     _query({"signal": "sines", "length": 2048, "steps": 300,
                             "signal_options": "freqs=10,150,400 amps=1,1,1"}, ("relu", "relu_pe", "siren"))),
            FollowUp("late or never? a network that cannot make fine detail (FourierNet, filter scale 20) beside "
                     "ReLU with a positional encoding",
                     _query({**BIAS, "mfn_scale": 20}, ("mfn_fourier", "relu_pe")))),
           spectral_bias_takeaway, symbols=("Δ", "band thirds", "cycles", "PSNR")),
    Lesson("ntk", 2, "Why: the NTK's eigenvalues", _words(
        "Near its initial weights a network trains like a kernel method with its eNTK K. Under plain gradient "
        "descent on the MSE, with K fixed at its value at step 0, the error along eigenvector vᵢ shrinks by the "
        "factor |1 − η·(2/N)·λᵢ| at every step: large-λ directions are fitted within a few steps, small-λ "
        "ones "
        "barely move. Two wide one-layer networks (4,096 units) on a sum of three sines (2, 8 and 24 cycles, "
        "N = 256 points), trained by plain gradient descent at a constant rate, where this holds; the takeaway "
        "checks the formula against the run. With Adam (the lab's default) every weight's step is divided by its "
        "own running gradient size, so a step is no longer η × gradient and the formula stops giving the pace "
        "(try the first follow-up).", ("eNTK", "λ", "GD", "MSE", "PSNR", "cycles")),
           "Which part of the target does gradient descent fit first?",
           ("the part along the eNTK's large-λ eigenvectors", "the part along its small-λ eigenvectors",
            "all parts at the same rate"),
           0, _query(GRADIENT_DESCENT, ("relu", "relu_pe")),
           (FollowUp("the same two under Adam (width 512, this server's limit; the lesson's: 4,096): does the "
                     "formula still hold?",
                     _query({**GRADIENT_DESCENT_512, "optimizer": "adam", "lr": 1e-3}, ("relu", "relu_pe"))),
            FollowUp("narrow networks (width 64, η scaled to match): the kernel moves as they train",
                     _query({**GRADIENT_DESCENT, "width": 64, "lr": 0.0192}, ("relu", "relu_pe"))),
            FollowUp("random Fourier features: a third kernel, with more fast directions (width 512, η × 8 to "
                     "match the lesson's 4,096)",
                     _query(GRADIENT_DESCENT_512, ("relu", "relu_pe", "relu_rff")))),
           ntk_takeaway, symbols=("eNTK", "λ", "GD", "MSE", "PSNR", "cycles"), diagnostics=("ntk",)),
    Lesson("bottleneck", 3, "The spectral bottleneck and SIREN²", _words(
        "A target made only of frequencies near the sampling limit (Nyquist), 4,096 samples. SIREN starts with "
        "almost no kernel energy there, so its output can stay at zero. SIREN² (the WINNER paper) adds scaled "
        "noise to the first two weight matrices at initialisation, which spreads its kernel's energy to high "
        "frequencies. Both for 300 steps at learning rate 1e-4; the takeaway reads both the PSNR over the whole "
        "run and each kernel's S(k) at step 0.",
        ("PSNR", "zero-output", "eNTK", "S(k)", "ω₀", "s₀ s₁", "cycles")),
           "Where will SIREN's PSNR end on this target?",
           ("at the PSNR of an all-zero output: it learns nothing", "halfway to SIREN²'s", "as high as SIREN²'s"),
           0, _query(BOTTLENECK, ("siren", "siren2")),
           (FollowUp("FINER between the two (broadband S6)", _query(
               {**BOTTLENECK, "signal": "broadband_s6"}, ("siren", "finer", "siren2"))),
            FollowUp("audio, a bright chip melody: not all of its energy is near Nyquist — does SIREN still "
                     "stay at the all-zero PSNR?", _query(
                {"signal": "chip_melody", "length": 8000, "steps": 300}, ("siren", "siren2"))),
            FollowUp("SIREN² without its noise on layer 2 (s₁ = 0), beside SIREN", _query(
                {**BOTTLENECK, "s1": 0}, ("siren", "siren2")))),
           bottleneck_takeaway, symbols=("PSNR", "zero-output", "eNTK", "S(k)", "ω₀", "s₀ s₁", "cycles"),
           diagnostics=("ntk", "bands")),
    Lesson("damping", 4, "SPDER's damping", _words(
        "SPDER keeps SIREN's sine but multiplies it by a slowly growing damping, sin(x)·√|x|. The activation is "
        "no longer bounded, and the paper reports image fits that converge in a fraction of SIREN's steps. "
        "SIREN and SPDER on the same 48×48 image for 200 steps, both at learning rate 1e-4 (what both papers "
        "use); nothing else differs.", ("PSNR", "damping", "ω₀", "Δ", "cycles")),
           "In 200 steps at one shared learning rate, which ends with the higher PSNR?",
           ("SIREN", "SPDER", "about the same (within 1 dB)"),
           1, _query(DAMPING, ("siren", "spder")),
           (FollowUp("a log damping instead of √|x|", _query(
               {**DAMPING, "image_size": 64, "damping": "log"}, ("siren", "spder"))),
            # one shared rate, as the lesson (the audio defaults differ: SIREN 1e-4, SPDER 5e-5)
            FollowUp("the same on audio (a chip melody), again at one shared learning rate", _query(
                {"signal": "chip_melody", "length": 8000, "steps": 300, "lr": 1e-4}, ("siren", "spder"))),
            FollowUp("each at its own best learning rate: is it the damping or the step size?", _query(
                {**DAMPING, "tune": 1}, ("siren", "spder")))),
           damping_takeaway, symbols=("PSNR", "damping", "ω₀", "Δ", "cycles")),
    Lesson("steering", 5, "Steering the dynamics: IGA, FR, BN", _words(
        "The network stays the same; the training changes. IGA rescales the training error along the eNTK's top "
        "eigenvectors so that its largest eigenvalues become equal: the fastest directions no longer set the "
        "pace. FR and BN are the paper's other two modifiers (follow-ups). ReLU with a positional encoding on the "
        "camera man (48×48), 300 steps at learning rate 2e-3, with and without IGA (end = 60 here, the paper "
        "uses 20: a stronger effect, easier to see; its matrix rebuilt every 5 steps, not every step as in the "
        "paper, to keep the lesson short). A faster run alone would reach each PSNR sooner with the same error "
        "in every band, so the two are compared at equal PSNR.",
        ("IGA", "FR BN", "eNTK", "λ", "matched PSNR", "Δ", "PSNR", "cycles")),
           "IGA evens out the kernel's largest eigenvalues. At equal PSNR, where will it have left less error "
           "than plain training?",
           ("in the bands above the lowest ones, which plain training learns later", "in the lowest bands",
            "nowhere in particular: it only moves faster along the same path"),
           0, _query(STEERING_IGA, ("relu_pe", "relu_pe+iga")),
           (FollowUp("all three modifiers (IGA, FR, BN) beside plain training", _query(
               STEERING_IGA, ("relu_pe", "relu_pe+iga", "relu_pe+fr", "relu_pe+bn"))),
            FollowUp("IGA and plain training, each at its own best learning rate: is IGA more than a faster rate?",
                     _query({**STEERING_IGA, "tune": 1}, ("relu_pe", "relu_pe+iga"))),
            FollowUp("IGA on plain ReLU, beside plain ReLU: which bands now?",
                     _query(STEERING_IGA, ("relu", "relu+iga")))),
           steering_takeaway, symbols=("IGA", "FR BN", "eNTK", "λ", "matched PSNR", "Δ", "PSNR", "cycles")),
    Lesson("cnn-weights", 6, "CNN weights as a signal (NeRN / SBS)", _words(
        "A small CNN's 3×3 kernels, indexed by (layer, filter, channel), are a signal too: a ReLU MLP can learn "
        "them, and the CNN is rebuilt from its output. SBS reorders each layer's kernels so that neighbours are "
        "similar before the MLP sees them (the order is stored and undone). The button fits SBS's predictor "
        "(reordered kernels, random Fourier features, 4.6 % of the CNN's parameters) on the kernels alone for "
        "300 steps, and the same predictor on the CNN's own order beside it.",
        ("low-frequency share", "kernel PSNR", "MSE", "zero-output", "relative error", "CR", "distillation")),
           "Reordering the kernels so neighbours are similar: what does it do to the signal the MLP learns?",
           ("moves its energy to low frequencies", "moves its energy to high frequencies",
            "nothing: the same values, equally hard"),
           0, "", (FollowUp("the same predictor on the CNN's own order alone (the lesson trains it beside): "
                            "compare its kernel PSNR and accuracy", f"{CNN_TAB}&setting=sbs_plain"),
                   FollowUp("NeRN's full setting (cosine ordering, positional encoding, distillation after a "
                            "warm-up): does the accuracy follow the kernel PSNR?",
                            "tab=nern&setting=nern&hidden=24&steps=1000"),
                   FollowUp("a predictor 4× wider (CR 45 %): does it learn the kernels?",
                            "tab=nern&setting=sbs&hidden=96&steps=500&feature_weight=0&kd_weight=0")),
           cnn_weights_takeaway, kind="nern",
           symbols=("low-frequency share", "kernel PSNR", "MSE", "zero-output", "relative error", "CR",
                    "distillation")),
)}
LESSONS["denoising"] = Lesson(
    "denoising", 7, "When spectral bias helps: denoising", _words(
        "Until now every network was scored on the samples it trained on, and spectral bias slowed it down. "
        "Here it helps. Noise is added to a 48×48 photo (σ = 0.2); two networks train on the noisy photo for "
        "400 steps and are scored against the clean photo they never see: the **held-out PSNR**. A photo's "
        "energy sits mostly at low frequencies; the noise's is spread evenly over all of them. The curves "
        "show each network's held-out PSNR (against the clean photo) beside its training PSNR (against the "
        "noisy one). ReLU with a positional encoding and SIREN, each at its own default learning rate.",
        ("held-out PSNR", "noise σ", "PSNR")),
    "Trained on the noisy photo, scored against the clean one: how does a network's held-out PSNR move as "
    "training goes on?",
    ("up, then down: it learns the picture first and the noise later", "up, and it stays up until the end",
     "it never beats the noisy photo itself: it learns the noise along with the picture"),
    0, _query(DENOISE, ("relu_pe", "siren")),
    (FollowUp("half the noise (σ = 0.1): does the turn come later or earlier?",
              _query({**DENOISE, "noise_std": 0.1}, ("relu_pe", "siren"))),
     FollowUp("plain ReLU and a hash grid beside ReLU with a positional encoding: the strongest and the weakest "
              "bias towards low frequencies", _query(DENOISE, ("relu", "relu_pe", "hashgrid"))),
     FollowUp("inpainting: 30 % of the pixels kept, the rest scored; which network fills the holes?",
              _query({"signal": "camera", "image_size": 48, "steps": 400, "task": "inpaint", "keep": 0.3},
                     ("relu_pe", "siren", "hashgrid")))),
    denoising_takeaway, symbols=("held-out PSNR", "noise σ", "PSNR"), diagnostics=("errors",))
BY_NUMBER = {lesson.number: lesson for lesson in LESSONS.values()}
FIRST_LESSON = "spectral-bias"


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
                      changes: dict | None = None, methods: Sequence[str] | None = None, **kwargs):
    """The LiveComparison the lesson's button streams, at the app's cadences (`changes`: settings over
    the lesson's and `methods` instead of its own, as the tests' counterfactuals; `kwargs` go to
    LiveComparison)."""
    from ..comparison import LiveComparison
    from ..limits import AppLimits
    from ..presets import with_app_cadence
    from ..uploads import load_ui_signal

    from ...diagnostics import CADENCES

    config, own_methods, tune = lesson_settings(lesson, seed)
    config = config.replace(**(changes or {}))
    signal = load_ui_signal(config, None, limits or AppLimits())
    # only what the lesson reads: a takeaway reads *when* bands were learned, and a band column the budget
    # deferred behind an unused eNTK or error map would move that
    unread = {knob: 0 for name, knob in CADENCES.items() if name not in lesson.diagnostics}
    config = with_app_cadence(config, device_type).replace(**unread)
    return LiveComparison(config, list(methods or own_methods), signal, tune=tune, **kwargs)


def cnn_lesson_run(seed: int | None = None, **changes) -> CnnLessonRun:
    """The CNN lesson's predictor (SBS's, on the kernels alone) with its own-order twin, not yet trained."""
    from ...nern import NernConfig

    settings = {**CNN_LESSON_SETTINGS, "seed": int(seed or 0), **changes}
    steps = settings["steps"]
    return CnnLessonRun(NernConfig(**settings, log_every=max(1, steps // 100), eval_every=max(1, steps // 10),
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
    expanded = followup_link(query["followup"]) if "followup" in query else None
    if expanded is None:
        return dict(query), ""
    settings, note = expanded
    return {**dict(parse_qsl(settings)), "run": "1"}, note


def unknown_followup_note(query: dict) -> str:
    """The note for a `followup=` that names no follow-up ('' when there is none or it is known)."""
    if "followup" not in query or followup_link(query["followup"]) is not None:
        return ""
    known = ", ".join(f"{lesson.number}.1–{lesson.number}.{len(lesson.followups)}" for lesson in LESSONS.values())
    return f"There is no follow-up {str(query['followup'])[:20]!r} (the lessons have {known})."


def lesson_takeaway(lesson: Lesson, *run, prediction: int | None = None) -> Takeaway:
    """The lesson's takeaway from its run, with the student's prediction set against what the run shows."""
    result = lesson.takeaway(*run)
    if prediction is None or result.supports is None:
        return result
    said = lesson.choices[prediction]
    verdict = (f"You predicted “{said}”: the run agrees." if prediction == result.supports
               else f"You predicted “{said}”; the run shows “{lesson.choices[result.supports]}”.")
    return Takeaway(f"{verdict} {result.text}", result.supports)
