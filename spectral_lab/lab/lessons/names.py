"""Words the lessons share: methods under display names, every symbol in one line of plain words.

Lesson text and takeaways name a method by what it is ("ReLU with a positional encoding"), not by
the id a student types into the lab (`relu_pe`); ids stay where a student must type them (links).
"""
from __future__ import annotations

DISPLAY_NAMES = {
    "relu": "plain ReLU",
    "relu_pe": "ReLU with a positional encoding",
    "relu_rff": "ReLU with random Fourier features",
    "siren": "SIREN",
    "siren2": "SIREN²",
    "spder": "SPDER",
    "finer": "FINER",
    "mfn_fourier": "a multiplicative filter network (FourierNet)",
    "mfn_gabor": "a multiplicative filter network (GaborNet)",
    "hashgrid": "a hash grid",
    "wire": "WIRE",
    "gauss": "a Gaussian-activation network",
}
MODIFIER_NAMES = {"iga": "IGA", "fr": "FR (Fourier reparameterisation)", "bn": "batch norm"}


def display_name(method: str) -> str:
    """'relu_pe+iga' -> 'ReLU with a positional encoding, trained with IGA'; an unknown id in backticks."""
    base, *modifiers = method.split("+")
    name = DISPLAY_NAMES.get(base, f"`{base}`")
    if modifiers:
        name += ", trained with " + " and ".join(MODIFIER_NAMES.get(m, f"`{m}`") for m in modifiers)
    return name


def bold_name(method: str) -> str:
    return f"**{display_name(method)}**"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# One line each, in plain words; a lesson lists the keys its words and takeaway use (Lesson.symbols)
SYMBOLS = {
    "PSNR": "**PSNR** (dB): 10·log10(R²/MSE), with MSE the mean squared difference between the fit and the "
            "target and R = 2 the range of the target's values; higher is better, +6 dB = half the error.",
    "MSE": "**MSE**: the mean of the squared differences between the fit and the target.",
    "zero-output": "**zero-output PSNR**: what a network that outputs 0 everywhere scores; a run stuck there "
                   "learned nothing.",
    "cycles": "**cycles**: oscillations across the whole image side (or signal): 1 cycle = coarse shapes, "
              "24 cycles = pixel-level detail at 48 pixels.",
    "Δ": "**Δ** of a frequency band: the fit's error in that band divided by the target's energy there "
         "(equation 7 of the IGA paper, summed over the band); 100 % = no better than outputting 0, below "
         "50 % counts as learned.",
    "band thirds": "**low / high bands**: the lowest and highest third of the bands in which the target has "
                   "energy.",
    "eNTK": "**eNTK** (empirical neural tangent kernel) K: how much one gradient step on one point moves the "
            "output at another point, measured on the network itself.",
    "λ": "**λᵢ, vᵢ**: K's i-th largest eigenvalue and its eigenvector (a pattern over the points); a "
         "**fast direction** has λᵢ ≥ λ₁/100.",
    "GD": "**η**: the learning rate; **N**: the number of training points; **t**: the steps taken. The "
          "(2/N) comes from the gradient of the MSE, (2/N)·(fit − target).",
    "S(k)": "**S(k)**: where the kernel puts its energy at frequency k: its eigenvectors' power spectra weighted "
            "by their eigenvalues (equation 6 of the WINNER paper).",
    "ω₀": "**ω₀**: SIREN's frequency scale, sin(ω₀·(Wx + b)); 30 here.",
    "s₀ s₁": "**s₀, s₁**: how much noise SIREN² adds to the first and second weight matrices (standard "
             "deviations s₀/ω₀ and s₁/ω₀), set from the target's mean frequency by equation 11 of the WINNER "
             "paper; s₀ = s₁ = 0 is plain SIREN.",
    "damping": "**damping**: SPDER's activation is sin(x)·√|x| (equation 1 of the SPDER paper): a sine whose "
               "swings grow slowly away from 0.",
    "IGA": "**IGA** (inductive gradient adjustment): before each step the training error is multiplied by a "
           "matrix built from the eNTK of one point per 3×3 patch, which makes its largest eigenvalues "
           "λ₁…λ_end equal (equations 4–5 of the IGA paper); **end** = how many are evened out.",
    "FR BN": "**FR** (Fourier reparameterisation: each hidden weight matrix trained as coefficients of a fixed "
             "cosine basis) and **BN** (batch normalisation of the hidden layers): the IGA paper's other two ways "
             "to change training, in the follow-ups.",
    "matched PSNR": "**at equal PSNR**: the two runs compared at the moment each reached the same PSNR, not at "
                    "the same step: a run that is only faster reaches it sooner with the same error left in "
                    "every band.",
    "kernel PSNR": "**kernel PSNR** (dB): 10·log10(peak²/MSE) over every kernel value, peak = the CNN's "
                   "largest |weight|; an all-zero output already scores the zero-output PSNR.",
    "relative error": "**relative error** of a layer: ‖predicted − original kernels‖ / ‖original kernels‖; "
                      "100 % = no better than all zeros.",
    "CR": "**CR**: the MLP's parameters as a share of the CNN's (the compression ratio).",
    "low-frequency share": "**low-frequency share**: the part of the largest layer's kernel energy that "
                           "changes slower than one cycle per 8 neighbouring kernels.",
    "held-out PSNR": "**held-out PSNR**: the fit scored against what it never trained on, here the clean photo "
                     "(its **training PSNR** is scored against the noisy photo it was given).",
    "noise σ": "**σ**: the noise's standard deviation, in the photo's value range −1 to 1 (0.2 = a tenth of the "
               "range): each pixel gets its own random amount.",
    "distillation": "**distillation phase**: after a warm-up that fits the kernels alone, the loss also asks "
                    "the rebuilt CNN to match the original's feature maps and outputs on digits.",
}


def symbols_markdown(keys) -> str:
    """The lesson's symbols, one line each."""
    return "\n".join(f"- {SYMBOLS[key]}" for key in keys)
