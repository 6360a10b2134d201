"""The "Lab: audio, images, 1D" tab: pick a signal and methods, press Train, watch spectral bias
live in named views (reconstructions, learning over time, NTK & spectra, errors, one method from
the inside), replay any step, share the setup as a link. Wiring and words only; every number
comes from spectral_lab (see spectral_lab/lab/).

One module per job: state (what the callbacks share), settings (controls <-> RunConfig, links, presets,
uploads, the preview), runs (Train, Stop, Reset), views (replay, details, downloads), layout (the
components), events (the wiring). The names below are the tab's face for the page, the session-end
hook, the benches and the tests.
"""
from spectral_lab.lab import CUSTOM, DEFAULT_PRESET
from spectral_lab.ui.lab.events import wire
from spectral_lab.ui.lab.layout import build_tab
from spectral_lab.ui.lab.runs import on_autorun, on_queue, on_reset, on_stop, on_train, on_train_link, release
from spectral_lab.ui.lab.settings import (CONTROL_FIELDS, CONTROLLED, MORE_SETTINGS, _config_from, _link_query,
                                          _preset_values, _share_link, _values_from, on_crop, on_edit, on_hide,
                                          on_link, on_load, on_methods, on_preset, on_preview, on_signal, on_upload)
from spectral_lab.ui.lab.state import FINISHED, FOLDERS, ui
from spectral_lab.ui.lab.views import (on_details, on_export, on_gif, on_live, on_play, on_replay,
                                       on_x_axis)
from spectral_lab.ui.widgets import SESSIONS

__all__ = ["CONTROL_FIELDS", "CONTROLLED", "CUSTOM", "DEFAULT_PRESET", "FINISHED", "FOLDERS", "MORE_SETTINGS",
           "SESSIONS", "build_tab", "on_autorun", "on_crop", "on_details", "on_edit", "on_export",
           "on_gif", "on_hide", "on_link", "on_live", "on_load", "on_methods", "on_play", "on_preset", "on_preview",
           "on_queue", "on_replay", "on_reset", "on_signal", "on_stop", "on_train", "on_train_link", "on_upload",
           "on_x_axis", "release", "ui", "wire", "_config_from", "_link_query", "_preset_values", "_share_link",
           "_values_from"]
