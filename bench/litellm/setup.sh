#!/usr/bin/env bash
# Creates bench/.cache/litellm-venv with the LiteLLM that bench/litellm/*.py measure.
# Idempotent: a venv that already has the pinned litellm is left as it is.
# PIP_FIND_LINKS (pip's own variable) may name a folder of already downloaded wheels.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.cache/litellm-venv"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.12 python3.11 python3.10 python3; do
    # A pyenv shim may exist for a version that is not installed: run it to be sure.
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
      python="$candidate"; break
    fi
  done
fi
wanted="$(sed -n 's/^litellm==//p' "$here/requirements.txt")"
if [ -x "$venv/bin/python" ] && \
   [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" = "$wanted" ] && \
   "$venv/bin/python" -c 'import redis' 2>/dev/null; then
  echo "$venv (litellm $wanted) is ready"
  exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "$venv (litellm $wanted) installed"
