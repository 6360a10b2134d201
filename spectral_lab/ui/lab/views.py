"""The lab tab's result views after and during a run: the frame as components, the replay slider, Live,
Play, the GIF, the curves' x axis, one method's details and the figures' downloads."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from spectral_lab import plots
from spectral_lab.lab import LiveComparison, session_key
from spectral_lab.lab.replay import checkpoint_steps, gallery_gif
from spectral_lab.ui.widgets import SESSIONS, results_table
from spectral_lab.ui.lab.state import AUDIO_SLOTS, FINISHED, FOLDERS, ui


def blank_curves():
    """Empty curve axes, in the page as it is served (layout.py)."""
    return plots.render(plots.psnr_figure({}, "PSNR and loss, one line per method: press Train"))


def target_plot(signal, title: str = "Target") -> dict:
    """The target alone as a figure in the reconstruction plot (for an image too: a gallery stretches and crops
    a single image)."""
    return gr.update(value=plots.render(plots.reconstruction_figure(signal, None, title)), visible=True)


def _frame_updates(frame, live: LiveComparison, outdir: Path | None = None) -> dict:
    updates = {ui.status: frame.status} if frame.status else {}
    if outdir is not None:  # a training frame (not a replay): the slider grows with the run and follows it
        following = live.replay_step is None
        updates[ui.replay] = gr.update(maximum=max(1, live.max_step()),
                                       **({"value": live.max_step()} if following else {}))
    if frame.curves is not None:
        updates[ui.curves] = plots.render(frame.curves)
    if frame.table is not None:
        updates[ui.results] = results_table(frame.table)
    if frame.gallery is not None:
        updates[ui.gallery] = gr.update(value=frame.gallery, visible=True)
        if live.tune:  # the target was shown alone while the searches ran (runs.py): the gallery takes its place
            updates[ui.recon_plot] = gr.update(visible=False)
    if frame.reconstruction is not None:
        updates[ui.recon_plot] = gr.update(value=plots.render(frame.reconstruction), visible=True)
    for slot, (audio, label) in (frame.audio or {}).items():
        if slot < AUDIO_SLOTS:
            updates[ui.audio_slots[slot]] = gr.update(value=audio, label=label, visible=True)
    for spec, component in ((frame.ntk, ui.ntk), (frame.errors, ui.errors), (frame.bands, ui.bands)):
        if spec is not None:
            updates[component] = gr.update(value=plots.render(spec), visible=True)
    if frame.details is not None:
        updates.update(_details_updates(frame.details))
    if frame.done and outdir is not None:  # the table at once; the PNG figures (seconds of matplotlib) when asked for
        updates[ui.downloads] = live.export(outdir, figures=False)
    return updates


def _details_updates(details) -> dict:
    activation_spec, kernel_spec = details
    return {ui.activations: gr.update(value=plots.render(activation_spec) if activation_spec else None,
                                   visible=activation_spec is not None),
            ui.kernel: gr.update(value=plots.render(kernel_spec) if kernel_spec else None, visible=kernel_spec is not None)}


def _comparison(request) -> LiveComparison | None:
    """The session's running comparison, else its last one."""
    return SESSIONS.running(session_key(request)) or FINISHED.get(session_key(request))


def on_replay(step, request: gr.Request):
    """The slider moved: every panel of every method as it stood at that step. At the right end of
    a running comparison the panels follow training again."""
    live = _comparison(request)
    if live is None or step is None:
        return {ui.status: gr.skip()}
    step = int(step)
    if live is SESSIONS.running(session_key(request)) and step >= live.max_step():
        live.replay_step = None
        return {ui.status: gr.skip()}
    live.replay_step = step
    return _frame_updates(live.frame_at(step), live)


def on_live(request: gr.Request):
    """Back to the latest step (and, during a run, to following it)."""
    live = _comparison(request)
    if live is None:
        return {ui.status: gr.skip()}
    live.replay_step = None
    return {**_frame_updates(live.frame_at(live.max_step()), live), ui.replay: live.max_step()}


def on_play(step, request: gr.Request):
    """Animate the run from the slider's step (from the start when it is at the end)."""
    live = _comparison(request)
    if live is None:
        yield {ui.status: gr.skip()}
        return
    steps = checkpoint_steps(live.views)
    start = int(step or 0) if int(step or 0) < live.max_step() else 0
    steps = [s for s in steps if s >= start][::max(1, len(steps) // 40)] + [live.max_step()]
    for s in steps:
        live.replay_step = s
        yield {**_frame_updates(live.frame_at(s, panels=("reconstruction", "bands", "errors")), live), ui.replay: s}
        time.sleep(0.4)
    if SESSIONS.running(session_key(request)) is live:
        live.replay_step = None  # at the end of a running comparison: follow it again


def on_gif(request: gr.Request):
    """The run as an animated GIF (the gallery, or the fit panels for 1D / audio), for slides."""
    live = _comparison(request)
    if live is None or not checkpoint_steps(live.views):
        return gr.skip()
    return live.add_download(gallery_gif(live, FOLDERS.make(session_key(request)) / "replay.gif"))


def on_x_axis(choice: str, request: gr.Request):
    live = _comparison(request)
    if live is None:
        return gr.skip()
    live.x_axis = choice
    return plots.render(live.curves_figure(marker=live.replay_step))


def on_details(method: str, request: gr.Request):
    """Show another method's activations and kernel (from the running or last comparison)."""
    live = _comparison(request)
    if live is None or not method or method not in live.methods:
        return {ui.activations: gr.skip(), ui.kernel: gr.skip()}
    live.selected = method
    return _details_updates(live.details(method))


def on_export(request: gr.Request):
    """The last comparison's table and figures (PNG, matplotlib) for download."""
    live = _comparison(request)
    if live is None:
        return gr.skip()
    return live.export(FOLDERS.make(session_key(request)))
