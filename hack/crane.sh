#!/usr/bin/env bash
# Prints the path of go-containerregistry's `crane`, building it from its Go module into
# ~/.cache/accord/ the first time (about a minute, plus module downloads).
set -euo pipefail
version="${CRANE_VERSION:-v0.22.1}"
dir="${ACCORD_CACHE:-$HOME/.cache/accord}/crane-$version"
if [[ ! -x "$dir/crane" ]]; then
  echo "[image] building crane $version from github.com/google/go-containerregistry (once; cached in $dir)" >&2
  mkdir -p "$dir"
  (cd "$(mktemp -d)" && GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/google/go-containerregistry/cmd/crane@$version") >&2
fi
echo "$dir/crane"
