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


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_has_a_chinese_translation(tmp_path, domain):
    locale = tmp_path / "locale"
    shutil.copytree(ROOT / "locale", locale)
    args = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain, "-v", "0"]
    args += [f"--ignore={path}" for path in IGNORE]
    if domain == "djangojs":
        args += ["--extension=js"]
    subprocess.run(args, cwd=ROOT, env=os.environ | {"LOCALE_DIR": str(locale)}, check=True)
    po_file = locale / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
    if not po_file.exists():
        pytest.skip(f"no {domain} strings")
    assert untranslated(po_file) == []
