"""Run every benchmark module in bench/ (each defines `run() -> None`), or those named."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> None:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    for name in names or found:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "run"):
            print(f"== bench.{name} ==", flush=True)
            module.run()


if __name__ == "__main__":
    main(sys.argv[1:])
