"""Run every benchmark module in bench/ (each defines `run()` or `main()`), or those named."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> None:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    for name in names or found:
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "run", None) or getattr(module, "main", None)
        if entry is not None:
            print(f"== bench.{name} ==", flush=True)
            entry()


if __name__ == "__main__":
    main(sys.argv[1:])
