"""Training modifiers (IGA, FR, BN), one module each, combinable with any MLP method as
`method+modifier`. Importing the package registers all three, in this order (FR's layers are
built before BN wraps the activations)."""
from . import iga, fr, bn  # noqa: F401  (registration order: iga, fr, bn)
from .bn import BatchNormActivation, apply_batch_norm
from .fr import (FR_ALPHA, FR_BASES, FourierLinear, apply_fourier_layers, basis_rank, check_full_rank,
                 describe_preconditioner, fold_fourier_layers, fr_basis, fr_default_alpha, fr_preconditioner,
                 frame_basis, preconditioner_spectrum, reference_basis, sgd_update_beyond_lr)
from .iga import (IGA_MAX_GROUPS, IGA_PAPER, SAMPLINGS, InductiveGradientAdjustment, group_points, iga_default_end,
                  iga_default_group)
from .registry import MODIFIERS, ModifierSpec, describe_modifiers, expand_methods, register_modifier, split_method
