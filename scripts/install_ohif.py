#!/usr/bin/env python3
"""Install OHIF Viewer 3's prebuilt dist from the npm package @ohif/app into static/ohif/.

The package is built to live at the site root ("/"); PedsLink serves its files under
/static/ohif/ and the app itself at /ohif/, so the public path in the bundles and the
asset links in index.html are rewritten here. The service worker is left out (it would
cache PedsLink's authenticated responses). Usage: install_ohif.py VERSION
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "static" / "ohif"
WORK = ROOT / "var" / "ohif-pack"
PUBLIC = "/static/ohif/"


def main(version: str) -> None:
    stamp = TARGET / f".installed-{version}"
    if stamp.exists():
        print(f"OHIF {version} already installed in {TARGET}")
        return
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    subprocess.run(["npm", "pack", "--silent", f"@ohif/app@{version}"], cwd=WORK, check=True)  # noqa: S603, S607
    tgz = next(WORK.glob("ohif-app-*.tgz"))
    with tarfile.open(tgz) as tar:
        tar.extractall(WORK, filter="data")
    dist = WORK / "package" / "dist"
    for js in dist.rglob("*.js"):
        text = js.read_text(encoding="utf-8", errors="surrogateescape")
        patched = text.replace(
            '__webpack_require__.p = "/";', f'__webpack_require__.p = "{PUBLIC}";'
        )
        if patched != text:
            js.write_text(patched, encoding="utf-8", errors="surrogateescape")
    for css in dist.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        css.write_text(re.sub(r"url\(/(?!/)", f"url({PUBLIC}", text), encoding="utf-8")
    index = (dist / "index.html").read_text(encoding="utf-8")
    index = index.replace('src="/app-config.js"', 'src="/ohif/app-config.js"')
    index = re.sub(r'<script[^>]*init-service-worker\.js"></script>', "", index)
    index = re.sub(r'(href|src)="/(?!ohif/)', rf'\1="{PUBLIC}', index)
    index = index.replace('window.PUBLIC_URL="/"', f'window.PUBLIC_URL="{PUBLIC}"')
    (dist / "index.html").write_text(index, encoding="utf-8")
    shutil.rmtree(TARGET, ignore_errors=True)
    shutil.move(str(dist), TARGET)
    stamp.write_text(version + "\n")
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"OHIF {version} installed in {TARGET}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "3.13.2")
