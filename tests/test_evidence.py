"""Evidence that tells the truth: the replay's last step shows the table's numbers, and every download
is kept (the GIF beside the CSV, not instead of it)."""
import functools

from spectral_lab import RunConfig
from spectral_lab.lab import AppLimits, LiveComparison, load_ui_signal, with_app_cadence
from spectral_lab.lab.replay import gallery_gif, view_at


@functools.cache
def _finished(methods=("relu", "siren")):
    config = with_app_cadence(RunConfig(signal="camera", image_size=16, width=16, steps=30), "cpu")
    live = LiveComparison(config, list(methods), load_ui_signal(config, None, AppLimits()), curve_hz=1e9)
    list(live.frames())
    return live


def test_the_replays_last_step_shows_the_tables_psnr_and_an_earlier_one_its_training_loss(tmp_path):
    live = _finished()
    for view, row in zip(live.views, live.table()):
        last = view_at(view, live.max_step())
        assert round(last.psnr, 2) == row["psnr_db"]  # before: the loss before the last update (102.5 vs 102.93)
        assert last.label.split(" · ")[1] == view.label.split(" · ")[1]
        earlier = view_at(view, 10)
        assert earlier.psnr != view.psnr and earlier.step == 10


def test_the_gif_joins_the_downloads_beside_the_csv(tmp_path):
    live = _finished()
    files = live.export(tmp_path, figures=False)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["results.csv"]
    (tmp_path / "b").mkdir()
    files = live.add_download(gallery_gif(live, tmp_path / "b" / "replay.gif"))
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == ["replay.gif", "results.csv"]
