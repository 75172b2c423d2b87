#!/usr/bin/env bash
# Prints the path of a python3 whose venv holds exactly hack/python-requirements.txt:
# securesystemslib, in-toto, in-toto-attestation and jsonschema, the independent check of
# Accord's signed audit records (e2e/audit/verify_independent.py).
#
# The venv is made once, under ~/.cache/accord/python-<hash>/ (ACCORD_CACHE overrides),
# the hash covering the requirements and the interpreter (PYTHON, default python3), so a
# changed pin or a new Python gets a venv of its own. Afterwards this only prints the
# path. Progress goes to stderr; stdout is the path alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/python-requirements.txt"
base_python="${PYTHON:-python3}"
cache="${ACCORD_CACHE:-$HOME/.cache/accord}"
interpreter=$("$base_python" -c 'import sys; print(sys.executable, sys.version)')
hash=$( { echo "$interpreter"; cat "$requirements"; } | sha256sum | cut -c1-16)
dir="$cache/python-$hash"
ready="$dir/.accord-ready"

if [[ ! -e "$ready" ]]; then
  mkdir -p "$cache"
  # One installer at a time (parallel test runs); the second finds the venv made.
  exec 9>"$dir.lock"
  flock 9
  if [[ ! -e "$ready" ]]; then
    started=$(date +%s)
    echo "[python] creating $dir (once) from hack/python-requirements.txt with $base_python" >&2
    rm -rf "$dir"
    "$base_python" -m venv "$dir" >&2
    "$dir/bin/python" -m pip install --disable-pip-version-check --no-input \
      --progress-bar off --require-virtualenv -r "$requirements" >&2
    "$dir/bin/python" -m pip check >&2
    cp "$requirements" "$ready"
    echo "[python] ready in $(( $(date +%s) - started ))s: $dir" >&2
  fi
  exec 9>&-
fi
echo "$dir/bin/python"
