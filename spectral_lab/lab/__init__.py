"""The lab layer behind the app: Gradio-free, so the app's callbacks are tested as plain functions
(tests/test_live.py) and its throughput is benchmarked without a browser (bench/bench_app.py).

One job per module:
    limits      caps per visitor and the check against them
    links       share links (the whole state as a query string) and back
    presets     named setups whose notes are checked, sizes per signal kind
    lessons     guided lessons: question, settings, a takeaway written from the run's numbers
    uploads     a built-in signal or an uploaded file, checked
    stream      the training stream (host data only), methods round-robin
    comparison  what the UI shows while methods train: updates -> Frames at the UI's pace
    pacing      which heavy panels and audio players a frame carries next
    method_view one method's panels now and its capped history (replay)
    figures     what the panels draw, and the downloads
    status      the words: status line, final summary, results table
    replay      any step of a finished or running comparison; the GIF
    sessions    which comparison a browser has running or queued
"""
from .comparison import Frame, LiveComparison, device_label
from .pacing import HEAVY_PANELS
from .figures import rows_to_csv, to_audio, upscale
from .method_view import MethodView
from .limits import AppLimits, check_limits
from .links import PAGE_KEYS, has_settings, parse_link, parse_share_query, share_query, share_tune
from .presets import (CUSTOM, DEFAULT_PRESET, PRESETS, SIZE_FIELDS, Preset, matching_preset, preset_query,
                      signal_kind, sizes_for_signal, with_app_cadence)
from .sessions import NOTHING_RUNNING, RUNNING_STOPPED, Sessions, session_key
from .stream import OUTCOMES, Update, train_stream, user_message
from .uploads import load_ui_signal

__all__ = ["AppLimits", "CUSTOM", "DEFAULT_PRESET", "Frame", "HEAVY_PANELS", "LiveComparison", "MethodView",
           "NOTHING_RUNNING", "OUTCOMES", "PAGE_KEYS", "PRESETS", "Preset", "RUNNING_STOPPED", "SIZE_FIELDS",
           "Sessions", "Update", "check_limits", "device_label", "has_settings", "load_ui_signal", "matching_preset",
           "parse_link", "parse_share_query", "preset_query", "rows_to_csv", "session_key", "share_query",
           "share_tune", "signal_kind", "sizes_for_signal", "to_audio", "train_stream", "upscale", "user_message",
           "with_app_cadence"]
