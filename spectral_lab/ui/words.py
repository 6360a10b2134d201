"""The lab tab's long explanations: what each view shows, the symbols in words, and the note
under the reconstructions for each kind of signal."""

EXPLAIN = {
    "curves": "**PSNR** = 10·log10(R²/MSE), R = 2 (targets in [-1, 1]); repositories using R = 1 read 6.02 dB "
              "lower. A flat line at the start value means the network outputs ~0: the *spectral bottleneck*.",
    "ntk": "**Empirical NTK** on a regular set of points, float64. Top: eigenvalue decay (slow decay = many "
           "directions learn fast) and the share of the target on the i fastest eigenvectors (a curve that rises "
           "early = a target the kernel learns fast). Below, per method: **S(k)**, where the kernel puts its energy in frequency (WINNER Eq. 6), with "
           "the target's spectrum dashed: where S(k) has no energy but the target does, training cannot go. "
           "Solid = trained network, dashed = at initialisation.",
    "errors": "Images: FFT log-magnitude error per method (bright = large), and the pixel error. Audio: the "
              "target's spectrogram and each fit's dB difference: a band that stays bright is one the network has "
              "not learned; grey = the target is more than 60 dB below its peak there (nothing to learn).",
    "bands": "Band-aggregated relative error after IGA Eq. 7 over training, per method: dark = not yet learned, "
             "bright = learned; grey = no target energy there (under 0.1% of the busiest band's). Spectral bias "
             "shows as low bands brightening first.",
    "details": "One method at a time: per-layer activation histograms with their theory curves (arcsine for SIREN "
               "outputs; WINNER Thm 3.1 plus the bias term for layer 2), each layer's power spectrum, and the "
               "normalised kernel.",
}
GLOSSARY = """
- **PSNR** (dB): 10·log10(R²/MSE) with R = 2, the range of targets scaled to [-1, 1]; +6 dB = half the error.
  The *zero-output PSNR* is what a network that outputs 0 everywhere scores: a run stuck there learned nothing.
- **SSIM** (≤ 1): structural similarity of images (1 = identical).
- **ρ_AG** (≤ 1): cosine similarity of the fit's and the target's amplitude spectra (SPDER Eq. 5); 1 = the same
  energy at every frequency.
- **ψ**: the signal's spectral centroid, its energy-weighted mean frequency over Nyquist (WINNER Eq. 10); high ψ =
  a high-frequency signal.
- **eNTK**, K: the empirical neural tangent kernel, how a step on one point moves the output at another.
  **λᵢ** its eigenvalues: under plain gradient descent on the MSE with K fixed at its start, the error along
  eigenvector i shrinks like |1 − η(2/N)λᵢ|ᵗ (η the learning rate, N the training points, t the steps; the 2/N
  comes from the MSE's gradient), so large λ = learned fast. It holds while the kernel stays near its start (wide
  networks); with Adam, the lab's default, each weight's step is rescaled by its own gradient history and the
  formula no longer gives the pace.
- **S(k)**: where the kernel puts its energy in frequency (WINNER Eq. 6); nothing there = nothing learned there.
- **Δ** per band: the error in a frequency band over the target's energy there (equation 7 of the IGA paper,
  summed over the band; 1 = as bad as outputting 0, below 0.5 the lessons count the band as learned).
- **ω₀**: the frequency scale of a sine layer (SIREN); **s₀, s₁**: SIREN²'s noise scales on its first two weight
  matrices, set from the target's spectral centroid ψ (equation 11 of the WINNER paper); 0 = plain SIREN.
- **At equal PSNR**: two runs compared when each reached the same PSNR, not at the same step: a run that is only
  faster then leaves the same error in every band; a steered one (IGA) leaves it in other bands.
- **M**: the points the eNTK is measured on. **cycles per signal**: oscillations across the whole signal (or
  image side); audio frequencies are in Hz.
"""
RECONSTRUCTION_NOTES = {  # by signal kind, shown under "Reconstructions"
    "image": "The target and every method's current fit, side by side, enlarged with nearest neighbour (you "
             "see pixels, not smoothing).",
    "audio": "The target and every method's current fit: a window of the waveform per method, and a player for "
             "each fit below (listen for the missing highs).",
    "1d": "The target and every method's current fit, one panel per method.",
}
