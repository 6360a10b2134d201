"""The docs cannot drift from the registry: every method is on docs/zoo.md, the page's generated part
is current, and the README stays a short front page whose links resolve."""
import re
from pathlib import Path

from spectral_lab.cli import main
from spectral_lab.methods import METHODS
from spectral_lab.modifiers import MODIFIERS
from spectral_lab.zoo_page import DOCS_ZOO, generated_part, zoo_page

ROOT = Path(__file__).resolve().parent.parent


def test_every_registered_method_and_modifier_is_on_the_zoo_page():
    page = DOCS_ZOO.read_text()
    missing = [name for name, spec in METHODS.items() if spec.source == "spectral_lab" and f"**`{name}`**" not in page]
    assert not missing, f"docs/zoo.md lacks {missing}: run `python -m spectral_lab docs`"
    assert all(f"**`+{name}`**" in page for name in MODIFIERS)


def test_the_generated_part_is_current_and_the_check_says_so(capsys):
    assert generated_part() == zoo_page(), "docs/zoo.md is stale: run `python -m spectral_lab docs`"
    assert main(["docs", "--check"]) == 0
    assert "current" in capsys.readouterr().out


def test_a_method_missing_from_the_page_is_caught(tmp_path):
    """Broken case: the page without one method fails the check that guards it."""
    stale = tmp_path / "zoo.md"
    stale.write_text(DOCS_ZOO.read_text().replace("**`siren2`**", "**`renamed`**"))
    assert generated_part(stale) != zoo_page()


def test_the_readme_is_short_and_every_local_link_resolves():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
