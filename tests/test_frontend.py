"""The browser code's shape (README, "Front-end code"): ES modules under static/js/<area>/,
loaded by file from the templates (no inline script), the shared helpers written once."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
JS = STATIC / "js"
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
MODULES = sorted(JS.rglob("*.js"))

STATIC_JS = re.compile(r"""\{%\s*static\s+['"]([^'"]+\.js)['"]\s*%\}""")
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
IMPORT = re.compile(r"""(?:\bfrom|\bimport|new URL\()\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


def test_every_script_a_template_loads_exists():
    referenced = {(t, path) for t in TEMPLATES for path in STATIC_JS.findall(t.read_text())}
    assert referenced
    missing = [
        f"{t.relative_to(ROOT)}: {path}" for t, path in referenced if not (STATIC / path).is_file()
    ]
    assert missing == []


def test_templates_load_our_scripts_from_their_area_folders():
    for template in TEMPLATES:
        for path in STATIC_JS.findall(template.read_text()):
            assert re.fullmatch(r"js/[a-z]+/[\w.-]+\.js", path), f"{template}: {path}"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: str(t.relative_to(ROOT)))
def test_no_template_has_an_inline_script(template):
    """Scripts come from files (the policy's 'self'); a JSON data block is not a script."""
    for attrs in SCRIPT_TAG.findall(template.read_text()):
        assert "src=" in attrs or 'type="application/json"' in attrs, f"<script{attrs}>"


def test_every_relative_import_of_a_module_exists():
    assert MODULES
    for module in MODULES:
        for target in IMPORT.findall(module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module}: {target}"


def test_modules_live_in_area_folders():
    assert [m.relative_to(JS) for m in MODULES if m.parent == JS] == []
    assert not (STATIC / "consult" / "live.js").exists()


def test_translation_and_csrf_are_read_in_the_shared_helpers_only():
    helpers = JS / "shared" / "helpers.js"
    for module in MODULES:
        source = module.read_text()
        if module == helpers:
            continue
        assert "window.gettext" not in source, module
        assert "window.interpolate" not in source, module
        assert "csrftoken" not in source and "csrfmiddlewaretoken" not in source, module
