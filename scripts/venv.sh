#!/usr/bin/env bash
# Create .venv and install the project into it (with the test extras when given "test").
# Quick when nothing changed: it re-installs only when pyproject.toml is newer than the stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "test" ] && extra="[test]"
stamp=".venv/.installed${extra:+-test}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
    touch "$stamp"
fi
