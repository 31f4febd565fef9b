#!/usr/bin/env bash
# The test command of the README: prepares a fresh machine, then runs every test.
# Unit tests, integration tests against the real PostgreSQL and MariaDB, and end-to-end tests of
# the built bundles, under this machine's Node and under Node 24, the action's runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
npm ci --no-audit --no-fund --loglevel=error
bash scripts/install-node24.sh
npm run --silent typecheck
npm run --silent build
npx vitest run "$@"
