"""Chinese is the first language: every translatable string has a Chinese translation."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORE = [".venv", "var", "node_modules", "tests", "bench", "static/vendor", "static/ohif"]


def untranslated(po_file: Path) -> list[str]:
    """msgids whose msgstr is empty or fuzzy (a small .po reader: entries split by blank lines)."""
    missing = []
    for block in po_file.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        msgid, msgstrs, current = [], [], None
        for line in lines:
            if line.startswith("msgid "):
                current = msgid
                current.append(line[6:].strip('"'))
            elif line.startswith("msgid_plural"):
                current = None
            elif line.startswith("msgstr"):
                current = []
                msgstrs.append(current)
                current.append(line.split(" ", 1)[1].strip('"'))
            elif line.startswith('"') and current is not None:
                current.append(line.strip('"'))
        text = "".join(msgid)
        if text and (fuzzy or not any("".join(s) for s in msgstrs)):
            missing.append(text)
    return missing


def source_copy(target: Path) -> Path:
    """The project without its virtualenv, data and built bundles: makemessages files every
    string under the nearest `locale/` above it, so it must run where that is a copy."""
    skip = {".git", ".venv", "var", "node_modules", "test-artifacts", "ohif", "__pycache__"}
    shutil.copytree(ROOT, target, ignore=lambda _dir, names: [n for n in names if n in skip])
    return target


def makemessages(tree: Path, domain: str) -> Path:
    args = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain, "-v", "0"]
    args += [f"--ignore={path}" for path in IGNORE]
    if domain == "djangojs":
        args += ["--extension=js"]
    env = {k: v for k, v in os.environ.items() if k != "LOCALE_DIR"}
    subprocess.run(args, cwd=tree, env=env, check=True)
    return tree / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_has_a_chinese_translation(tmp_path, domain):
    po_file = makemessages(source_copy(tmp_path / "src"), domain)
    if not po_file.exists():
        pytest.skip(f"no {domain} strings")
    assert untranslated(po_file) == []


def test_a_new_untranslated_string_is_caught(tmp_path):
    """The check above can fail: a string nobody translated is reported by its msgid."""
    tree = source_copy(tmp_path / "src")
    (tree / "consult" / "zz_new_text.py").write_text(
        "from django.utils.translation import gettext as _\n\n"
        'TEXT = _("A sentence nobody translated")\n'
    )
    po_file = makemessages(tree, "django")
    assert "A sentence nobody translated" in untranslated(po_file)
    assert not (ROOT / "consult" / "zz_new_text.py").exists()
