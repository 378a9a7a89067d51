#!/bin/sh
# Installs what the mock identity providers of e2e/upstream.test.mjs need and is
# missing: the GitHub-shaped `oauth-mocks` (PyPI) in a project-local venv under
# .tools/venv; and, in the same venv, the MCP Python SDK (`mcp`, PyPI), the client
# of e2e/mcp-python-sdk.test.mjs. (oauth2-mock-server, the OpenID Connect mock, is an npm
# devDependency and comes with `npm ci`.) Safe to run again: it checks first.
#
# oauth-mocks declares Python >= 3.12 but runs on 3.11, hence
# --ignore-requires-python.
set -eu
cd "$(dirname "$0")/.."

OAUTH_MOCKS_VERSION=0.1.0
# The last 1.x release (its client API: ClientSession, streamablehttp_client).
MCP_SDK_VERSION=1.30.0
VENV=.tools/venv
PYTHON="${PYTHON:-python3}"

step() { printf '==> %s\n' "$*"; }

installed() {
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('oauth-mocks') != '$OAUTH_MOCKS_VERSION' or m.version('mcp') != '$MCP_SDK_VERSION')" 2>/dev/null
}

if installed && [ -x "$VENV/bin/oauth-mocks" ]; then
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "mock-deps: $PYTHON not found; install Python 3.11 or later (or set PYTHON=...)" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "creating the Python venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi

step "installing oauth-mocks $OAUTH_MOCKS_VERSION and mcp $MCP_SDK_VERSION into $VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
  "oauth-mocks==$OAUTH_MOCKS_VERSION" "mcp==$MCP_SDK_VERSION"
installed || { echo "mock-deps: oauth-mocks $OAUTH_MOCKS_VERSION or mcp $MCP_SDK_VERSION did not install" >&2; exit 1; }
