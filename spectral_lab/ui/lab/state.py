"""What the lab tab's callbacks share: its components (`ui`, set by wire), each session's last comparison
and download folders, and the choices its pickers offer."""
from __future__ import annotations

from types import SimpleNamespace


from spectral_lab.lab.files import SessionFolders
from spectral_lab.lab.replay import Replays
from spectral_lab.methods import ordered_methods
from spectral_lab.signals import SKIMAGE_IMAGES, SYNTHETIC, builtin_audio
from spectral_lab.ui.widgets import LIMITS


ui = SimpleNamespace()  # the components, for the callbacks' dict updates (set by wire)
UI_NAMES = ("signal_info", "recon_note", "target_audio", "gallery", "recon_plot", "upload_state", "upload_message",
            "status", "share", "preset_note", "preset", "details_choice", "curves", "results", "downloads",
            "audio_slots", "ntk", "errors", "bands", "activations", "kernel", "controls", "tune", "upload", "methods",
            "method_info", "steps", "accordions", "families", "replay",
            "replay_row", "curves_x", "signal", "crop")
# session hash -> its last comparison (the replay, details and downloads read it); their replay histories
# share the server's budget (SPECTRAL_LAB_REPLAYS_MB): the least recently used one's is dropped past it
FINISHED = Replays()
FOLDERS = SessionFolders()  # session hash -> the temp folders of its downloads (gone when it trains again or closes)
SIGNAL_CHOICES = sorted(SYNTHETIC) + sorted(builtin_audio()) + list(SKIMAGE_IMAGES)
# The registry's methods in family order (encodings, periodic, wavelets, learned, filters, grids), by
# short name: a chip with its family ("siren · periodic") takes a line of its own, and six of them
# push Train below a 720-px screen. Families and one-liners: the "All methods, by family" list; the
# chosen ones are explained below the picker.
METHOD_CHOICES = ordered_methods()
AUDIO_SLOTS = LIMITS.max_methods
UPLOAD_PREFIX = "upload: "  # the signal picker's entry for an upload
CROP_CHOICES = [("its first N samples", "first"), ("the loudest N samples", "loudest"),
                ("all of it, resampled to N samples (highs above the new Nyquist go)", "resample")]
