#!/usr/bin/env bash
# `npm run test:litellm`: the sluice-litellm tests (pytest) against this repository's daemon.
#
# On first use creates integrations/litellm/.venv and installs the package with its test and
# proxy extras from PyPI (LiteLLM pinned by tests/constraints.txt); installs again only when
# pyproject.toml or the constraints change. Needs Python >= 3.10 with its venv module, and the
# daemon built (`npm run build`; `npm test` builds it in test:ts first). Arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"

fail() {
  echo "test:litellm: $*" >&2
  exit 1
}

[ -f "$here/../../daemon/dist/cli.js" ] || [ -n "${SLUICE_DAEMON:-}" ] ||
  fail "no daemon at daemon/dist/cli.js: run \`npm run build\` at the repository root first"

recent_enough() {
  # A pyenv shim may exist for a version that is not installed: run it to be sure.
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}
if [ -n "${PYTHON:-}" ]; then
  recent_enough "$PYTHON" || fail "PYTHON=$PYTHON does not run as Python >= 3.10"
  python="$PYTHON"
else
  python=""
  for candidate in python3.12 python3.11 python3.10 python3; do
    if recent_enough "$candidate"; then
      python="$candidate"
      break
    fi
  done
  [ -n "$python" ] || fail "Python >= 3.10 is required (python3 not found or too old); on Debian: apt-get install python3 python3-venv"
fi

# The install is redone when what it installs from changes.
stamp="$venv/.sluice-installed"
wanted="$(cat "$here/pyproject.toml" "$here/tests/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    # Debian's python3 lacks ensurepip (so venv fails half way) until python3-venv is installed.
    "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
      fail "$python has no venv/ensurepip module; on Debian: apt-get install python3-venv"
    echo "test:litellm: creating $venv with $("$python" --version)"
    "$python" -m venv "$venv" || { rm -rf "$venv"; fail "could not create $venv"; }
  fi
  echo "test:litellm: installing sluice-litellm[test,proxy] from PyPI (first run: a few minutes)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$here/tests/constraints.txt" -e "$here[test,proxy]" ||
    fail "pip install failed (PyPI reachable?)"
  echo "$wanted" >"$stamp"
fi

# pytest exits 5 when it collected no tests: that is a failure here, never a pass. A hung test
# (a daemon or proxy that never answers) ends the run after 15 minutes instead of hanging CI.
status=0
timeout 900 "$venv/bin/python" -m pytest -q -rfE -p no:warnings "$@" || status=$?
case "$status" in
  0) ;;
  5) fail "pytest collected no tests: check integrations/litellm/tests" ;;
  124) fail "the tests did not finish within 15 minutes" ;;
  *) exit "$status" ;;
esac
