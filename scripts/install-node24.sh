#!/usr/bin/env bash
# Installs Node 24 (the runtime of `runs.using: node24`) from the npm registry into .cache/node24,
# apart from the project's own dependencies so that it never shadows the Node that runs the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=.cache/node24
if [ -x "$prefix/node_modules/.bin/node" ] && "$prefix/node_modules/.bin/node" --version | grep -q '^v24\.'; then
  exit 0
fi
echo "installing Node 24 into $prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error node@24 >/dev/null
"$prefix/node_modules/.bin/node" --version
