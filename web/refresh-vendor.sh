#!/usr/bin/env bash
# Refresh the vendored browser libraries from the pinned npm lock (package-lock.json):
# `npm ci` in a temporary copy of web/ (no node_modules left in the tree, no install
# scripts run), then copy the built files Tally serves into api/static/web/vendor/ and
# the test-only axe-core into tests/browser/vendor/. Commit what it changes.
#
#   web/refresh-vendor.sh            # after editing versions: cd web && npm install --save-exact <pkg>@<version>
set -euo pipefail
WEB="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$WEB")"
SERVED="$ROOT/api/static/web/vendor"
TESTS="$ROOT/tests/browser/vendor"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cp "$WEB/package.json" "$WEB/package-lock.json" "$TMP/"
(cd "$TMP" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
NM="$TMP/node_modules"

mkdir -p "$SERVED/licenses" "$TESTS"
# uPlot: global `uPlot`
cp "$NM/uplot/dist/uPlot.iife.min.js" "$NM/uplot/dist/uPlot.min.css" "$SERVED/"
cp "$NM/uplot/LICENSE" "$SERVED/licenses/uplot-LICENSE"
# graphql-ws browser build (UMD): global `graphqlWs`
cp "$NM/graphql-ws/umd/graphql-ws.min.js" "$SERVED/"
cp "$NM/graphql-ws/LICENSE.md" "$SERVED/licenses/graphql-ws-LICENSE.md"
# axe-core: tests only, never served; global `axe`
cp "$NM/axe-core/axe.min.js" "$TESTS/"
cp "$NM/axe-core/LICENSE" "$TESTS/axe-core-LICENSE"
cp "$NM/axe-core/LICENSE-3RD-PARTY.txt" "$TESTS/axe-core-LICENSE-3RD-PARTY.txt"

# A sanity check that the builds still expose the globals the pages and tests use.
grep -q '\.graphqlWs={}' "$SERVED/graphql-ws.min.js" || { echo "graphql-ws UMD no longer sets graphqlWs" >&2; exit 1; }
grep -q 'uPlot' "$SERVED/uPlot.iife.min.js" || { echo "uPlot IIFE not found" >&2; exit 1; }

for pkg in uplot graphql-ws axe-core; do
  printf '%s %s\n' "$pkg" "$(node -p "require('$NM/$pkg/package.json').version")"
done
echo "vendored into ${SERVED#"$ROOT"/} and ${TESTS#"$ROOT"/}"
