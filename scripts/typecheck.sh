#!/usr/bin/env bash
# mypy with django-stubs over the services, selectors and pure modules (issue 13, item 5).
# Files are found by name, so they stay checked when modules move between packages:
#   services.py, selectors.py, and every module of a services/ or selectors/ package;
#   pure modules: those whose docstring (first 12 lines) says "pure" or "no ORM".
# The settings live in pyproject.toml ([tool.mypy], [tool.django-stubs]).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
packages=()
for package in alliance consult core imaging pedslink referrals viewer; do
  [[ -f "$package/__init__.py" ]] && packages+=("$package")
done
mapfile -t by_name < <(find "${packages[@]}" -name '*.py' -not -path '*/migrations/*' \
  \( -name services.py -o -name selectors.py -o -path '*/services/*' -o -path '*/selectors/*' \))
mapfile -t pure < <(find "${packages[@]}" -name '*.py' -not -path '*/migrations/*' \
  -not -path '*/models/*' -exec awk 'FNR > 12 { exit } tolower($0) ~ /(^|[^a-z])pure([^a-z]|$)|no orm/ { print FILENAME; exit }' {} \;)
mapfile -t files < <(printf '%s\n' "${by_name[@]}" "${pure[@]}" | sort -u)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "typecheck: no services, selectors or pure modules found" >&2
  exit 1
fi
echo "mypy over ${#files[@]} files: ${files[*]}"
exec "$PY" -m mypy "$@" "${files[@]}"
