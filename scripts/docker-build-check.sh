#!/bin/sh
# The Dockerfile's build stage, run outside Docker (the development machines and
# CI have no Docker engine): the same files copied, the same commands, then the
# artifact compared with the one `npm ci` builds in the repository, and the
# pruned runtime tree asked to validate the example policy.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/privguard-docker-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$repo"
# COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./ ; COPY src ./src
cp package.json package-lock.json tsconfig.json tsconfig.build.json "$work/"
cp -r src "$work/src"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1
npm run --silent build
npm prune --omit=dev >/dev/null 2>&1
# The runtime stage copies node_modules, dist, package.json and config.example.yaml.
cp "$repo/config.example.yaml" .
node dist/src/cli.js check -c config.example.yaml >/dev/null
[ -x dist/src/cli.js ] || { echo "docker build check: dist/src/cli.js is not executable" >&2; exit 1; }
if [ -d "$repo/dist/src" ]; then
  diff -r --exclude='*.map' "$repo/dist/src" dist/src >/dev/null || { echo "docker build check: the image's dist/ differs from npm ci's" >&2; exit 1; }
fi
test ! -d node_modules/vitest || { echo "docker build check: dev dependencies left in the runtime tree" >&2; exit 1; }
echo "docker build check: the Dockerfile's steps build the same dist/ as npm ci, and the runtime tree runs"
