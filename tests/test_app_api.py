"""The app's one training endpoint for scripts (`/train_link`, undocumented): a share link's
settings trained and streamed through the real server as the Train button streams them, driven by
gradio_client as bench/bench_app.py --latency --through-app drives it (issue 26, item 3)."""
import pytest

from served_app import served_app

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client():
    with served_app("app-api.log", SPECTRAL_LAB_CALIBRATE="0", SPECTRAL_LAB_CONCURRENCY="1",
                    OMP_NUM_THREADS="1") as url:
        yield gradio_client.Client(url, verbose=False)


def test_a_link_trains_through_the_server_frame_by_frame(client):
    updates = list(client.submit("?signal=camera&image_size=16&methods=relu,siren&steps=40&seed=0",
                                 api_name="/train_link"))
    statuses = [update[0] for update in updates]
    assert statuses[0].startswith("Waiting for a free training slot")
    assert any(status.startswith("Training") for status in statuses)  # frames streamed, not one answer
    assert statuses[-1].startswith("**Finished**: 2 method(s)"), statuses[-1]
    table = updates[-1][2]  # the results table, as the page gets it
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == {"relu", "siren"}
    assert all(float(row[1]) > 10 for row in rows.values())  # PSNR (dB): both trained


def test_a_link_it_cannot_apply_trains_nothing_and_says_why(client):
    for link, words in (("signal=nope&methods=relu", "not a built-in signal"),
                        ("signal=camera&methods=relu&steps=999999999", "steps"),
                        ("signal=camera&methods=siren,no_such_method", "no_such_method")):
        (status, *_), = list(client.submit(link, api_name="/train_link"))
        assert status.startswith("⚠️ Not trained") and words in status, status


def test_the_page_s_own_events_are_not_an_api(client):
    documented = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/train_link" not in documented  # undocumented: callable, not advertised
    with pytest.raises(Exception):
        client.predict(api_name="/on_train")


def test_every_setting_a_link_carries_is_applied_and_kept_in_the_run_s_link(client):
    """A setting without a control of its own (FourierNet's filter scale) is applied, not dropped: the
    run's saved link (the share box the page gets) carries it, and the run differs from the default's."""
    finals = {}
    for scale in ("20", ""):
        link = "signal=camera&image_size=16&methods=mfn_fourier&steps=30&seed=0" + (f"&mfn_scale={scale}" if scale else "")
        updates = list(client.submit(link, api_name="/train_link"))
        final = updates[-1]
        share = next(value for update in updates for value in update
                     if isinstance(value, str) and "methods=mfn_fourier" in value)
        assert ("mfn_scale=20" in share) == bool(scale), share
        finals[scale] = float(final[2]["data"][0][1])
    assert abs(finals["20"] - finals[""]) > 0.5, finals  # the scale changed the run


def _preset_links():
    from spectral_lab.lab import PRESETS, preset_query

    return {title: preset_query(title, "cpu") for title in PRESETS}


@pytest.mark.parametrize("title", sorted(_preset_links()))
def test_every_preset_trains_through_the_server(client, title):
    """Each preset's signal and methods, served: every method gets its row."""
    from spectral_lab.lab import parse_share_query

    link = _preset_links()[title]
    _, methods = parse_share_query(link)
    # the served path at a small size: the presets' own settings are tests/test_presets.py's (in process)
    small = "&image_size=16" if "image_size=" in link else "&length=1024"
    updates = list(client.submit(f"{link}{small}&steps=5", api_name="/train_link"))
    assert updates[-1][0].startswith("**Finished**"), updates[-1][0]
    rows = {row[0]: row for row in updates[-1][2]["data"]}
    assert set(rows) == set(methods), rows


def test_a_value_the_page_could_not_have_sent_is_one_warning_line(client):
    """A radio's value outside its choices (a script, a stale tab, a probe): refused as Gradio refuses it,
    with one line in the server's log and no traceback (the module's server log is checked for those)."""
    from served_app import ARTIFACTS

    for answer in ("not one of the choices", "<script>x</script>"):
        with pytest.raises(Exception, match="not in the list of choices"):
            client.predict("spectral-bias", answer, api_name="/run_lesson")
    log = (ARTIFACTS / "app-api.log").read_text()
    assert log.count("refused a request: lesson-question") == 2 and "Traceback" not in log
