#!/usr/bin/env python3
"""Imports inside function bodies (issue 13, item 2): each one is a known exception or a failure.

An import inside a function hides a dependency from the reader and from the layer check's
first glance, and usually dodges an import cycle. Going forward one is allowed only from a
task to a service, with a comment saying why. `AppConfig.ready` is the documented exception
(Django's place for signal wiring) and is not listed. Migrations, tests and bench/ are not
checked.

    python scripts/check_function_imports.py --check   # exit 1 on an import not in the list,
                                                       # or a listed one that is gone
    python scripts/check_function_imports.py --write   # rewrite the list from the code

scripts/function_imports_allowed.txt: one `path:function:module` a line, sorted.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = ROOT / "scripts" / "function_imports_allowed.txt"
# Our packages, including the ones the restructuring creates; missing ones are skipped.
PACKAGES = ("alliance", "consult", "core", "imaging", "pedslink", "referrals", "viewer")
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        base = ROOT / package
        if not (base / "__init__.py").is_file():
            continue
        for path in base.rglob("*.py"):
            if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
                files.append(path)
    return sorted(files)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(node: ast.Import | ast.ImportFrom, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = _module_name(path).split(".")
        if path.name != "__init__.py":
            package.pop()
        base = package[: len(package) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    # `from viewer import models` imports the module viewer.models, not the package.
    return [
        f"{source}.{alias.name}" if _is_our_module(f"{source}.{alias.name}") else source
        for alias in node.names
    ]


def _is_our_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_appconfig_ready(function: FunctionNode, owner: ast.ClassDef | None) -> bool:
    if function.name != "ready" or owner is None:
        return False
    return any(ast.unparse(base).endswith("AppConfig") for base in owner.bases)


def function_imports(path: Path) -> Iterator[str]:
    """`path:function:module` for each import inside a function of this file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(ROOT).as_posix()

    def walk(node: ast.AST, scope: list[str], owner: ast.ClassDef | None, inside: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from walk(child, [*scope, child.name], child, inside)
            elif isinstance(child, FunctionNode):
                if not _is_appconfig_ready(child, owner):
                    yield from walk(child, [*scope, child.name], None, True)
            elif isinstance(child, ast.Import | ast.ImportFrom) and inside:
                for module in _imported_modules(child, path):
                    yield f"{relative}:{'.'.join(scope)}:{module}"
            else:
                yield from walk(child, scope, owner, inside)

    yield from walk(tree, [], None, False)


def found() -> list[str]:
    return sorted({line for path in source_files() for line in function_imports(path)})


def read_allowed() -> list[str]:
    if not ALLOWED.exists():
        return []
    lines = (line.strip() for line in ALLOWED.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def write() -> int:
    lines = found()
    header = (
        "# Imports inside functions that exist today, `path:function:module` one a line.\n"
        "# New ones: only from a task to a service, with a comment. Regenerate with\n"
        "# `python scripts/check_function_imports.py --write` after removing one.\n"
    )
    ALLOWED.write_text(header + "".join(f"{line}\n" for line in lines))
    print(f"{len(lines)} imports inside functions written to {ALLOWED.relative_to(ROOT)}")
    return 0


def check() -> int:
    current, allowed = set(found()), set(read_allowed())
    new, stale = sorted(current - allowed), sorted(allowed - current)
    if new:
        print("Imports inside functions (allowed only from a task to a service, with a comment;")
        print("then add the line to scripts/function_imports_allowed.txt):")
        print("".join(f"  {line}\n" for line in new), end="")
    if stale:
        print("Listed imports inside functions that are gone (good: run")
        print("scripts/check_function_imports.py --write):")
        print("".join(f"  {line}\n" for line in stale), end="")
    if new or stale:
        return 1
    print(f"Imports inside functions: {len(allowed)} known, no new ones.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail on new or stale imports")
    mode.add_argument("--write", action="store_true", help="regenerate the allowed list")
    args = parser.parse_args()
    return write() if args.write else check()


if __name__ == "__main__":
    sys.exit(main())
