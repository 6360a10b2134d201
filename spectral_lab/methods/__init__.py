"""Every method: the registry (registry.py) and one module per family, each holding its layers,
init and registry entries. Importing the package registers the built-in families in picker order,
then the plug-ins of other installed packages (plugins.py)."""
from . import encodings, sine, wavelets, mfn, grids, kan, incode  # noqa: F401  (registration)
from .network import CoordinateMLP, count_parameters
from .plugins import PROBLEMS as PLUGIN_PROBLEMS, load_plugins
from .registry import (FAMILY_ORDER, KNOB_DEFAULTS, METHODS, MethodSpec, build_model, families, families_markdown,
                       family_of, get_method, knob_default, list_methods, ordered_methods, register, resolve,
                       used_knobs)
from .sine import winner_scales

load_plugins()
