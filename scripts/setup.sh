#!/usr/bin/env bash
# Idempotent set-up of a fresh clone: Node packages from the lockfile (with the
# patch-package fixes), a Python 3.13 virtual environment with the pinned dev
# requirements, and checkov in a virtual environment of its own (its pins
# conflict with moto's). Re-running it only does what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

find_python313() {
  # pyenv's shim for python3.13 exists but fails when 3.13 is not the active
  # version, so each candidate is asked for its version before it is used.
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "${AIRLINE_PYTHON313:-}" "$root"/versions/3.13*/bin/python3.13 \
      "$(command -v python3.13 || true)" /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.13 not found: install it (e.g. 'pyenv install 3.13') or set AIRLINE_PYTHON313" >&2
  return 1
}

node_stamp=$(stamp package-lock.json patches/*)
if [ ! -f node_modules/.airline-stamp ] || [ "$(cat node_modules/.airline-stamp)" != "$node_stamp" ]; then
  echo "==> npm ci (Serverless Framework osls and plugins, patched)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$node_stamp" > node_modules/.airline-stamp
fi

python313=$(find_python313)
py_stamp=$(stamp requirements.txt requirements-dev.txt)
if [ ! -x .venv/bin/python ] || [ ! -f .venv/.airline-stamp ] || [ "$(cat .venv/.airline-stamp)" != "$py_stamp" ]; then
  echo "==> Python 3.13 virtual environment (.venv)" >&2
  [ -x .venv/bin/python ] || "$python313" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  echo "$py_stamp" > .venv/.airline-stamp
fi

ck_stamp=$(stamp requirements-checkov.txt)
if [ ! -x .venv-checkov/bin/checkov ] || [ "$(cat .venv-checkov/.airline-stamp 2>/dev/null)" != "$ck_stamp" ]; then
  echo "==> checkov virtual environment (.venv-checkov)" >&2
  [ -x .venv-checkov/bin/python ] || "$python313" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --upgrade pip
  .venv-checkov/bin/python -m pip install --quiet -r requirements-checkov.txt
  echo "$ck_stamp" > .venv-checkov/.airline-stamp
fi
# The web app: Debian's Chromium for the browser tests (Playwright cannot download its own
# browsers here), the app's npm packages from its own lockfile, and the build (frontend/dist,
# served by the local cloud) whenever the app's sources changed.
if [ ! -x "${AIRLINE_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> chromium (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "warning: /usr/bin/chromium is missing; the browser tests need it: sudo apt-get install chromium" >&2
  fi
fi

app_deps_stamp=$(stamp frontend/package-lock.json)
if [ ! -f frontend/node_modules/.airline-stamp ] || [ "$(cat frontend/node_modules/.airline-stamp)" != "$app_deps_stamp" ]; then
  echo "==> npm ci (frontend: Vue, Quasar, Vite)" >&2
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$app_deps_stamp" > frontend/node_modules/.airline-stamp
fi

app_stamp=$(stamp frontend/package-lock.json frontend/index.html frontend/vite.config.ts $(find frontend/src frontend/public -type f 2>/dev/null | sort))
if [ ! -f frontend/dist/index.html ] || [ "$(cat frontend/node_modules/.airline-build-stamp 2>/dev/null)" != "$app_stamp" ]; then
  echo "==> building the web app (frontend/dist)" >&2
  (cd frontend && npm run --silent build >&2)
  echo "$app_stamp" > frontend/node_modules/.airline-build-stamp
fi
echo "==> set-up complete" >&2
