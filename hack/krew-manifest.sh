#!/usr/bin/env bash
# `hack/krew-manifest.sh VERSION BASE_URL ARCHIVE`: prints krew/accord.yaml with the
# version, the release URL and the archive's sha256 filled in.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 VERSION BASE_URL kubectl-accord-linux-amd64.tar.gz" >&2; exit 2; }
version="$1" base_url="$2" archive="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sha="$(sha256sum "$archive" | cut -d' ' -f1)"
sed -e "s|{{VERSION}}|$version|g" -e "s|{{BASE_URL}}|$base_url|g" \
    -e "s|{{SHA256_LINUX_AMD64}}|$sha|g" "$root/krew/accord.yaml"
