"""Lessons 3 and 4, the sine networks: SIREN's spectral bottleneck against SIREN² (WINNER), and
SPDER's damped sine against SIREN — each read over the whole run, with the learning rates named."""
from __future__ import annotations

from ...metrics import NEAR_ZERO_ENERGY, at_float32_limit, zero_output_relation
from .base import Takeaway
from .names import bold_name
from .readings import best_psnr_track, db, final_psnr, finished, pct, read_bands, step_reaching

LEFT_FLOOR_DB = 3.0  # a run has left the zero-output PSNR once it is this far above it
FITTED_DB = 10.0  # SIREN² must end this far above the zero-output PSNR for the contrast to exist
TARGET_ENERGY = 1e-3  # frequencies where the target has at least this share of its peak energy


def _pair(views, first: str, second: str):
    """The two finished methods a lesson compares, or a Takeaway saying one is missing."""
    done = finished(views)
    if first not in done or second not in done:
        names = f"{bold_name(first)} and {bold_name(second)}"
        return Takeaway(f"This lesson needs both {names} to finish.", None)
    return done[first], done[second]


def kernel_share_at_target(view) -> tuple[float, int, int, int] | None:
    """At step 0: the share of the kernel's S(k) (WINNER Eq. 6) at the frequencies where the target
    has energy, and that band (k from, k to, Nyquist) on the kernel's points."""
    kernel = view.ntk.get("init")
    if kernel is None:
        return None
    target = kernel.target_spectrum
    where = target >= TARGET_ENERGY * target.max()
    share = float(kernel.spectrum[where].sum() / max(kernel.spectrum.sum(), 1e-300))
    return share, int(kernel.k[where].min()), int(kernel.k[where].max()), int(kernel.k.max())


def _cycles_per(kernel) -> str:
    """The unit of the kernel's k: a window of consecutive samples (1D and audio) is not the whole signal."""
    if kernel.layout == "window":
        return f"cycles per window of {kernel.subgrid[0]:,} consecutive samples"
    return "cycles across the signal"


def _share_text(share: float) -> str:
    return f"{100 * share:.2g} %" if share < 0.01 else pct(share)


def bottleneck_takeaway(views) -> Takeaway:
    """Lesson 3: SIREN stays at the zero-output PSNR for the whole run on a near-Nyquist target; SIREN² leaves it."""
    pair = _pair(views, "siren", "siren2")
    if isinstance(pair, Takeaway):
        return pair
    siren, siren2 = pair
    floor = siren.metrics.get("zero_output_psnr")
    if floor is None:
        return Takeaway("The run did not report the zero-output PSNR.", None)
    siren_best = float(best_psnr_track(siren)[1].max())
    left_at = step_reaching(siren2, floor + LEFT_FLOOR_DB)
    # over the whole run, not only at the end; "≈ 0" two-sided: its best PSNR at the zero output's (not far
    # below it: a large, wrong output) and, where measured, an output with (almost) no energy
    energy = siren.metrics.get("output_energy_share", 0.0)
    stayed = zero_output_relation(siren_best, floor) == "at" and energy <= NEAR_ZERO_ENERGY
    supports = None
    if final_psnr(siren2) - floor > FITTED_DB:  # the contrast exists: SIREN² fitted the target
        supports = 0 if stayed else 2 if final_psnr(siren2) - final_psnr(siren) < 3 else 1
    text = (f"An all-zero output scores {floor:.1f} dB here. **SIREN** never got more than "
            f"{siren_best - floor:.1f} dB above it in {siren.total_steps} steps (final {db(siren)}); **SIREN²** "
            + (f"left it at step {left_at} and ended at {db(siren2)}." if left_at is not None
               else f"never left it either ({db(siren2)})."))
    shares = kernel_share_at_target(siren), kernel_share_at_target(siren2)
    if None not in shares:
        (plain, low, high, nyquist), (noisy, *_) = shares
        text += (f" At step 0, SIREN's kernel put {_share_text(plain)} of its energy S(k) at the target's "
                 f"frequencies (k = {low}–{high} {_cycles_per(siren.ntk['init'])}, where Nyquist is {nyquist}), "
                 f"SIREN²'s {_share_text(noisy)}.")
    if supports == 0:
        text += (" With (almost) no kernel energy where the target is, gradient descent had no direction "
                 "towards it, so SIREN's output stayed ≈ 0: the **spectral bottleneck**. SIREN²'s noise gave "
                 "its kernel energy there, and it learned.")
    elif supports is None:
        text += " SIREN² did not fit the target either, so this run does not show the bottleneck."
    return Takeaway(text, supports)


def _lr_text(siren, spder) -> str:
    rates = (siren.row or {}).get("lr"), (spder.row or {}).get("lr")
    if None in rates:
        return "at their learning rates"
    if rates[0] == rates[1]:
        return f"both at learning rate {rates[0]:g}"
    return f"SIREN at learning rate {rates[0]:g}, SPDER at {rates[1]:g}"


def damping_takeaway(views) -> Takeaway:
    """Lesson 4: at one shared learning rate SPDER's damped sine fits an image faster than SIREN."""
    pair = _pair(views, "siren", "spder")
    if isinstance(pair, Takeaway):
        return pair
    siren, spder = pair
    gap = final_psnr(spder) - final_psnr(siren)
    both_exact = at_float32_limit(siren.psnr, siren.psnr_limit) and at_float32_limit(spder.psnr, spder.psnr_limit)
    supports = 2 if both_exact or abs(gap) <= 1 else 1 if gap > 0 else 0
    text = f"In {spder.total_steps} steps, {_lr_text(siren, spder)}: SIREN ended at {db(siren)}, SPDER at {db(spder)}."
    leader, other = (spder, siren) if gap > 0 else (siren, spder)
    caught_up = step_reaching(leader, final_psnr(other))
    if supports != 2 and caught_up is not None:
        names = ("SPDER", "SIREN") if leader is spder else ("SIREN", "SPDER")
        text += f" {names[0]} passed {names[1]}'s final PSNR at step {caught_up} of {leader.total_steps}."
    siren_bands, spder_bands = read_bands(siren), read_bands(spder)
    if siren_bands is not None and spder_bands is not None:
        text += (f" High bands (above {spder_bands.high_bottom:g} cycles) at the end: SIREN "
                 f"{pct(siren_bands.high[-1])} error, SPDER {pct(spder_bands.high[-1])}.")
    if (siren.row or {}).get("lr") != (spder.row or {}).get("lr"):
        return Takeaway(text + " They trained at different learning rates, so this run does not compare them at "
                        "one shared rate, which is what the question asks.", None)
    if supports == 1:
        text += (" The only difference between the two networks is SPDER's damping √|x| on the sine (equation 1 "
                 "of the SPDER paper): at this learning rate it fitted far more of the image in the same steps. "
                 "Whether it does better than SIREN at *its own* best learning rate is another question: try the "
                 "last follow-up.")
    elif supports == 2:
        text += " The two ended within 1 dB (or both at the float32 limit): this run does not show SPDER's advantage."
    else:
        text += " SIREN ended higher here: this run does not show SPDER's advantage."
    return Takeaway(text, supports)
