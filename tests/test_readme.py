"""The README stays true: every setting is documented with its default."""

from pathlib import Path

from core.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README]
    assert missing == []


def test_readme_lists_no_setting_that_does_not_exist() -> None:
    known = {name.upper() for name in Settings.model_fields}
    in_table = {
        line.split("`")[1] for line in README.splitlines() if line.startswith("| `") and line.split("`")[1].isupper()
    }
    assert in_table - known == set()
