#!/usr/bin/env bash
# Prints the path of sigstore's `cosign`, building it from its Go module into
# ~/.cache/accord/ the first time (many minutes on 2 cores, plus module downloads;
# `-v` lists each package as it compiles, so the build shows progress on stderr).
# Used to check that Accord's registry audit records verify with `cosign verify-attestation`.
set -euo pipefail
version="${COSIGN_VERSION:-v2.6.5}"
dir="${ACCORD_CACHE:-$HOME/.cache/accord}/cosign-$version"
if [[ ! -x "$dir/cosign" ]]; then
  echo "[audit] building cosign $version from github.com/sigstore/cosign/v2 (once; cached in $dir)" >&2
  mkdir -p "$dir"
  (cd "$(mktemp -d)" && GOBIN="$dir" GOFLAGS=-mod=mod go install -v "github.com/sigstore/cosign/v2/cmd/cosign@$version") >&2
fi
echo "$dir/cosign"
