"""The page as Gradio serves it, as one hash: its components, layout and events with each event's
function name (memory addresses and the app id left out). A restructuring of spectral_lab/ui that
leaves the page as it was prints the same hash before and after.

    .venv/bin/python scripts/page_fingerprint.py [--dump page.json]
"""
import argparse
import hashlib
import json
import os
import re

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def page_config() -> dict:
    from spectral_lab.ui import build_demo

    demo = build_demo()
    config = demo.get_config_file()
    config.pop("app_id", None)
    functions = [getattr(block_fn.fn, "__name__", str(block_fn.fn)) for block_fn in demo.fns.values()]
    text = re.sub(r" at 0x[0-9a-f]+", "", json.dumps({"config": config, "functions": functions}, sort_keys=True,
                                                       default=str))
    return json.loads(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", help="also write the normalised config to this JSON file (to diff two)")
    args = parser.parse_args()
    page = page_config()
    text = json.dumps(page, sort_keys=True)
    if args.dump:
        with open(args.dump, "w") as out:
            json.dump(page, out, indent=1, sort_keys=True)
    print(f"{hashlib.sha256(text.encode()).hexdigest()[:16]}  {len(page['config']['components'])} components, "
          f"{len(page['config']['dependencies'])} events")


if __name__ == "__main__":
    main()
