"""Every preset's note states what its exact settings show: each preset is run headlessly at its
own (CPU) settings and the note's claim is checked. A new preset without a check fails here.

Measured here (seed 0, PSNR dB, zero-output PSNR in brackets): bottleneck SIREN 10.67 (10.67),
SIREN² 41.3; audio SIREN 40.8, SIREN² 63.3 (7.5); image ReLU 20.9, SIREN 34.1, SPDER 102.9;
encodings ReLU 22.0, PE 34.6, RFF 94.8, eNTK effective rank at init 2.7 / 6.5 / 14.1; S6 SIREN 18.69
(18.69), FINER 27.2, SIREN² 52.3; modifiers plain 32.4, IGA 36.6, FR 37.5, BN 35.8; ω₀ 30 / 300 /
3000: S(k) centroid at init 0.6 / 5.7 / 62 cycles. Tasks, held-out PSNR at seeds 0 / 1: denoising (the noisy
image 20.0) peaks ReLU+PE 26.3 at step 140 / 26.7 at 150, SIREN 26.7 at 70 / 26.7 at 70, SIREN ω₀ 90 21.1 / 21.0; at
step 400 ReLU+PE 23.8 / 24.1, SIREN 21.0 / 21.5, ω₀ 90 20.1 / 20.3. Inpainting (keep 0.3, 200 steps): ReLU+PE 23.8 /
24.2, SIREN 24.4 / 25.3, hash grid 24.4 / 24.1, SIREN ω₀ 90 14.6 / 15.4; train PSNR 37.6, 40.1–40.8, 73–84, 44.5–45.0.
"""
import numpy as np
import pytest

from spectral_lab import Run, run_to_end
from spectral_lab.diagnostics import band_relative_error, diagnose
from spectral_lab.lab import PRESETS, parse_share_query
from spectral_lab.signals import signal_for


def train_preset(title: str) -> dict:
    """method -> (final metrics, band Δ) at the preset's exact settings."""
    config, methods = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    results = {}
    for method in methods:
        _, final = run_to_end(config.replace(method=method, log_every=50, preview_every=0), signal)
        results[method] = (final.metrics, band_relative_error(signal, final.prediction)[1])
    return results


def ntk_at_init(config, signal):
    run = Run(config.replace(ntk_every=1), signal)
    return diagnose(run.model, signal, run.config, {"ntk"}, None)["ntk"]


def psnr(results, method):
    return results[method][0]["psnr"]


def check_bottleneck(title):
    r = train_preset(title)
    assert psnr(r, "siren") < r["siren"][0]["zero_output_psnr"] + 1.0  # "SIREN stays at the zero-output PSNR"
    assert psnr(r, "siren2") > psnr(r, "siren") + 20  # "SIREN² ... fits it"


def check_audio(title):
    r = train_preset(title)
    assert psnr(r, "siren2") > psnr(r, "siren") + 15  # "about 20 dB closer"
    siren_bands, siren2_bands = r["siren"][1], r["siren2"][1]
    assert np.nanargmax(siren_bands) >= siren_bands.size // 2  # SIREN's largest miss is an upper band
    assert np.nanmax(siren2_bands) < 0.05 < np.nanmax(siren_bands)  # where SIREN² stays near zero


def check_image(title):
    r = train_preset(title)
    relu, siren, spder = r["relu"][1], r["siren"][1], r["spder"][1]
    assert np.nanmin(relu[3:]) > 0.5  # every band above the lowest few mostly unlearned
    assert np.nanmax(siren[:7]) < 0.1 and np.nanmax(siren[-4:]) > 0.3  # sharp up to the middle bands
    assert np.nanmax(spder) < 0.05  # SPDER fits them all
    assert psnr(r, "relu") < psnr(r, "siren") < psnr(r, "spder")


def check_encodings(title):
    config, methods = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    ranks = [ntk_at_init(config.replace(method=m), signal).effective_rank for m in methods]
    assert ranks[0] < ranks[1] < ranks[2], ranks  # eigenvalues fall off more slowly with each encoding
    r = train_preset(title)
    assert psnr(r, "relu") < psnr(r, "relu_pe") < psnr(r, "relu_rff")  # and the PSNR rises with it


def check_s6(title):
    r = train_preset(title)
    assert psnr(r, "siren") < r["siren"][0]["zero_output_psnr"] + 1.0
    assert psnr(r, "finer") > psnr(r, "siren") + 5 and psnr(r, "siren2") > psnr(r, "finer") + 10


def check_modifiers(title):
    config, methods = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    assert Run(config.replace(method="relu_pe+iga"), signal).config.iga_every == 1  # rebuilt every step
    r = train_preset(title)
    for method in methods[1:]:  # "each modifier ends above the plain run" (3-seed spread ≤ 0.7 dB)
        assert psnr(r, method) > psnr(r, "relu_pe") + 1.5, (method, psnr(r, method), psnr(r, "relu_pe"))


def check_omega(title):
    config, _ = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    centroids = []
    for omega in (30.0, 300.0, 3000.0):  # "try 30, 300, 3000 and watch S(k) reach higher frequencies"
        result = ntk_at_init(config.replace(first_omega0=omega), signal)
        centroids.append((result.k * result.spectrum).sum() / result.spectrum.sum())
    assert centroids[0] < centroids[1] < centroids[2], centroids


def check_zoo(title, methods=None):
    # "watch how differently their eNTK eigenvalues fall off": at init the six effective ranks span
    # more than ×10 (measured: hashgrid 1.0, ReLU+PE 6.5, FKAN 20.9, FourierNet 56.1, SIREN 81.4, WIRE 149.1)
    config, preset_methods = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    ranks = [ntk_at_init(config.replace(method=m), signal).effective_rank for m in methods or preset_methods]
    assert max(ranks) > 10 * min(ranks), ranks


def task_runs(title: str) -> dict:
    """method -> (Run, final snapshot) of a task preset at its exact settings (a variant at its own)."""
    from spectral_lab.lab.variants import variant_config

    config, methods = parse_share_query(PRESETS[title].query)
    signal = signal_for(config)
    results = {}
    for method in methods:
        run = Run(variant_config(config, method).replace(preview_every=0), signal)
        final = None
        for final in run:
            pass
        results[method] = (run, final)
    return results


def heldout_peak(run) -> tuple[float, int]:
    steps, values = run.heldout_curve()
    return float(values.max()), int(steps[values.argmax()])


def check_denoising(title):
    from spectral_lab.metrics import psnr as psnr_of

    r = task_runs(title)
    relu_pe, siren, siren_90 = (r[m][0] for m in ("relu_pe", "siren", "siren@first_omega0=90@omega0=90"))
    noisy = psnr_of(siren.task.observed.values, siren.signal.values)
    assert abs(noisy - 20.0) < 0.3, noisy  # "the noisy image itself scores 20 dB"
    (siren_peak, siren_step), (relu_peak, relu_step) = heldout_peak(siren), heldout_peak(relu_pe)
    assert 25.7 < siren_peak < 27.7 and 50 <= siren_step <= 90, (siren_peak, siren_step)  # "about 26.7 dB near step 70"
    assert 25.5 < relu_peak < 27.5 and 120 <= relu_step <= 180, (relu_peak, relu_step)  # "about 26.5 dB near step 150"
    siren_end, relu_end = r["siren"][1].metrics, r["relu_pe"][1].metrics
    assert siren_end["psnr"] < 22.0  # "its held-out PSNR falls below 22 dB by step 400"
    steps, losses = siren.curve()
    at_peak = 10 * np.log10(4.0 / losses[steps == siren_step][0])
    assert siren_end["train_psnr"] > at_peak + 3  # "its train PSNR climbs on"
    # ReLU+PE "falls more slowly": it ends higher, having fallen less from its own peak
    assert relu_end["psnr"] > siren_end["psnr"] + 1.5 and relu_peak - relu_end["psnr"] < siren_peak - siren_end["psnr"]
    assert heldout_peak(siren_90)[0] < 21.6  # "never rises above about 21 dB"


def check_inpainting(title):
    ends = {method: final.metrics for method, (_, final) in task_runs(title).items()}
    smooth = [ends[m]["psnr"] for m in ("relu_pe", "siren", "hashgrid")]
    assert all(end["train_psnr"] > 35 for end in ends.values()), ends  # "all four reproduce the pixels they saw"
    assert ends["hashgrid"]["train_psnr"] > 70  # "the hash grid's above 70"
    assert max(smooth) - min(smooth) < 2 and all(22.5 < s < 25.5 for s in smooth), smooth  # "within 2 dB, near 24"
    high = ends["siren@first_omega0=90@omega0=90"]
    assert high["train_psnr"] > 40 and 13.5 < high["psnr"] < 16.5, high  # "fits its pixels as well … about 15 dB"


CHECKS = {
    "Spectral bottleneck (1D): SIREN vs SIREN²": check_bottleneck,
    "Audio: chip melody, SIREN vs SIREN²": check_audio,
    "Image: ReLU vs SIREN vs SPDER": check_image,
    "Encodings: plain vs PE vs RFF": check_encodings,
    "Broadband S6: SIREN, FINER, SIREN²": check_s6,
    "Training modifiers: PE with IGA, FR, BN": check_modifiers,
    "Teach ω₀: one SIREN knob": check_omega,
    "Zoo: one of each family": check_zoo,
    "Denoising: ReLU+PE vs SIREN ω₀ 30 vs SIREN ω₀ 90": check_denoising,
    "Inpainting: ReLU+PE, SIREN ω₀ 30 and 90, hash grid": check_inpainting,
}


def test_every_preset_has_a_check():
    assert set(CHECKS) == set(PRESETS)


@pytest.mark.parametrize("title", list(CHECKS))
def test_the_preset_note_holds_at_its_own_settings(title):
    CHECKS[title](title)


def test_a_frozen_network_fails_a_preset_check(monkeypatch):
    # The checks can fail: with a learning rate that freezes the networks, SIREN² never leaves the
    # zero-output PSNR and the bottleneck note's claim is refused.
    import spectral_lab.lab.presets as live

    title = "Spectral bottleneck (1D): SIREN vs SIREN²"
    frozen = live.Preset(title, PRESETS[title].explanation, PRESETS[title].query + "&lr=1e-8&lr_schedule=constant")
    monkeypatch.setitem(live.PRESETS, title, frozen)
    with pytest.raises(AssertionError):
        check_bottleneck(title)


def test_the_zoo_check_fails_when_every_family_is_the_same_network():
    with pytest.raises(AssertionError):
        check_zoo("Zoo: one of each family", methods=["siren", "siren"])


def test_no_preset_note_strikes_its_own_words_through():
    # the notes are Markdown: "~26.7 dB … ~26.5 dB" drew everything between the two tildes struck through
    assert not [title for title, preset in PRESETS.items() if "~" in preset.explanation]
