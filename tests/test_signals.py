"""Signals: shapes, normalisation, generators, the spectral centroid (WINNER Eq. 10), bad input."""
import numpy as np
import pytest
import soundfile as sf

from spectral_lab import SignalError, from_array, load_audio, load_image, load_signal, spectral_centroid
from spectral_lab.signals import SYNTHETIC, grid_coords, make_synthetic


def test_grid_coords_span_minus_one_to_one_row_major():
    coords = grid_coords((3, 4))
    assert coords.shape == (12, 2) and coords.dtype == np.float32
    assert coords[0].tolist() == [-1, -1] and coords[-1].tolist() == [1, 1]
    assert coords[1].tolist() == pytest.approx([-1, -1 / 3])  # second column of the first row


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_every_synthetic_signal_is_normalised(name):
    signal = make_synthetic(name, length=1024)
    assert signal.values.shape == (1024, 1) and signal.values.dtype == np.float32
    assert np.abs(signal.values).max() == pytest.approx(1.0, abs=1e-6)
    assert signal.coords.shape == (1024, 1)


def test_sum_of_sines_places_energy_at_requested_bins():
    signal = make_synthetic("sines", length=512, options="freqs=5,40 amps=1,0.5")
    spectrum = np.abs(np.fft.rfft(signal.values[:, 0]))
    assert set(np.argsort(spectrum)[-2:]) == {5, 40}
    assert spectrum[5] / spectrum[40] == pytest.approx(2.0, rel=1e-6)


def test_spectral_centroid_of_a_pure_tone_is_twice_its_frequency():
    # ψ = 2·k for a single bin k (cycles/sample): a tone at 1/8 of the sampling rate -> 0.25.
    tone = np.sin(2 * np.pi * 128 * np.arange(1024) / 1024)
    assert spectral_centroid(tone) == pytest.approx(0.25, abs=1e-6)
    # WINNER Eq. 5 high band: amplitude-weighted mean of .85/.9/.95 × Nyquist, A = 1, 2, 4 /7
    # (4000 samples put every tone on an exact FFT bin, so there is no leakage).
    expected = (0.85 * 1 + 0.90 * 2 + 0.95 * 4) / 7
    assert spectral_centroid(make_synthetic("winner_high", length=4000)) == pytest.approx(expected, abs=1e-6)


def test_spectral_centroid_reproduces_winner_table6(shared_data):
    tetris = load_audio(shared_data / "audio" / "tetris.wav", length=150_000)
    camera = load_image(shared_data / "images" / "camera.png")
    castle = load_image(shared_data / "images" / "castle_512.jpg")
    assert spectral_centroid(tetris) == pytest.approx(0.5732, abs=5e-4)
    assert spectral_centroid(camera) == pytest.approx(0.3121, abs=5e-4)
    assert spectral_centroid(castle) / 3 == pytest.approx(0.1097, abs=5e-4)  # Table 6 lists ψ/C


def test_audio_file_is_mono_peak_normalised_and_cropped(tmp_path):
    rate = 8000
    stereo = np.stack([0.2 * np.sin(np.arange(4000) * 0.3), 0.1 * np.sin(np.arange(4000) * 0.3)], axis=1)
    path = tmp_path / "clip.wav"
    sf.write(path, stereo, rate)
    signal = load_audio(path, length=1000)
    assert signal.kind == "audio" and signal.sample_rate == rate and signal.values.shape == (1000, 1)
    assert np.abs(signal.values).max() == pytest.approx(1.0, abs=1e-4)
    # back to original units: the mono mix of the two channels
    np.testing.assert_allclose(signal.to_original(), stereo[:1000].mean(axis=1), atol=1e-4)


def test_images_gray_rgb_and_resize():
    gray = load_signal("camera", image_size=32)
    rgb = load_signal("astronaut", image_size=24)
    assert gray.grid == (32, 32) and gray.channels == 1 and gray.coords.shape == (1024, 2)
    assert rgb.grid == (24, 24) and rgb.channels == 3
    assert -1 <= rgb.values.min() < rgb.values.max() <= 1
    assert load_signal("astronaut", image_size=24, gray=True).channels == 1
    assert rgb.to_original().shape == (24, 24, 3)


def test_numpy_arrays_become_signals():
    signal = from_array(np.linspace(-3, 5, 100))
    assert signal.values.max() == pytest.approx(1.0) and signal.scale == pytest.approx(5.0)
    image = from_array(np.random.default_rng(0).random((16, 20)), kind="image")
    assert image.grid == (16, 20)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage-not-audio" * 10), "readable"),
    (lambda p: sf.write(p, np.zeros(2000), 8000), "silent"),
])
def test_bad_audio_files_give_clear_errors(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(SignalError, match=message):
        load_audio(path)


def test_bad_images_and_arrays_give_clear_errors(tmp_path):
    from skimage import io

    flat = tmp_path / "flat.png"
    io.imsave(flat, np.full((16, 16), 128, np.uint8), check_contrast=False)
    with pytest.raises(SignalError, match="constant"):
        load_image(flat)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(SignalError, match="readable"):
        load_image(corrupt)
    with pytest.raises(SignalError, match="NaN"):
        from_array(np.array([0.0, 1.0, np.nan] * 5))
    with pytest.raises(SignalError, match="shape"):
        from_array(np.zeros((4, 4, 4, 4)), kind="1d")
    with pytest.raises(SignalError, match="shape"):
        load_image(np.zeros((8, 8, 5)))
    with pytest.raises(SignalError, match="unknown signal"):
        load_signal("no_such_signal")
    with pytest.raises(SignalError, match="Nyquist"):
        make_synthetic("sines", length=64, options="freqs=40")
    with pytest.raises(SignalError, match="no option"):
        make_synthetic("chirp", options="bogus=1")


def test_image_options_crop_the_top_left_square_and_keep_one_channel():


    rgb = np.zeros((40, 64, 3))
    rgb[:, :, 2] = np.linspace(0, 1, 64)[None, :]
    rgb[:20, :, 0] = 1.0
    whole = load_image(rgb, options="")
    assert whole.grid == (40, 64) and whole.channels == 3
    blue = load_image(rgb, options="crop=square channel=2")
    assert blue.grid == (40, 40) and blue.channels == 1
    np.testing.assert_allclose(blue.to_original()[0], np.linspace(0, 1, 64)[:40], atol=1e-9)
    red = load_image(rgb, options="channel=0 crop=square", size=20)
    assert red.grid == (20, 20) and red.to_original()[:8].min() > 0.9 and red.to_original()[12:].max() < 0.1
    with pytest.raises(SignalError, match="unknown image option"):
        load_image(rgb, options="freqs=3")
    with pytest.raises(SignalError, match="choose 0, 1 or 2"):
        load_image(rgb, options="channel=3")
