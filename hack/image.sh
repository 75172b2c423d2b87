#!/usr/bin/env bash
# `make image`: the operator's OCI image, built without a container runtime.
#
#   - a static binary (glibc, crt-static) so the image needs no base: FROM scratch;
#   - one layer made reproducibly (sorted, owner 0, mtime SOURCE_DATE_EPOCH): /accord,
#     /etc/passwd and /etc/group naming the non-root user 65532, and the SPDX SBOM at
#     /usr/share/doc/accord/sbom.spdx.json;
#   - entrypoint /accord, user 65532:65532, ports 8080 and 9443, OCI media types.
#
# The same commit gives the same digest. Output: target/image/oci (an OCI layout) and
# target/image/digest. Push with: crane push target/image/oci REGISTRY/accord:TAG
#
# `hack/image.sh --build-only` only builds the static binary (cached in
# ~/.cache/accord/target-static); e2e/run.sh starts it in the background so the image
# suite finds it built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${ACCORD_CACHE:-$HOME/.cache/accord}"
out="$root/target/image"
say() { echo "[image] $*" >&2; }

crane="$(hack/crane.sh)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"

say "building the static operator binary (release; about 7 minutes the first time)"
# A cargo that runs this script (the image e2e suite) leaves its package's variables in
# the environment, and build scripts that track them (ring: CARGO_MANIFEST_DIR) would
# rebuild what e2e/run.sh built beforehand: build in the same environment either way.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^CARGO_(MANIFEST_|PKG_|CRATE_|PRIMARY_|TARGET_TMPDIR|BIN_)' || true)
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$cache/target-static" ACCORD_GIT_COMMIT="$commit" \
  cargo build --release --locked --target x86_64-unknown-linux-gnu --bin accord
if [[ "${1:-}" == --build-only ]]; then exit 0; fi
binary="$cache/target-static/x86_64-unknown-linux-gnu/release/accord"
if ! ldd "$binary" 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then
  say "error: $binary is dynamically linked; the image has no libc"; exit 1
fi
"$binary" --version >/dev/null

rm -rf "$out" && mkdir -p "$out/rootfs/etc" "$out/rootfs/usr/share/doc/accord"
install -m 0755 "$binary" "$out/rootfs/accord"
strip "$out/rootfs/accord"
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$out/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/rootfs/etc/group"
python3 hack/sbom.py "$version" > "$out/rootfs/usr/share/doc/accord/sbom.spdx.json"
cp "$out/rootfs/usr/share/doc/accord/sbom.spdx.json" "$out/sbom.spdx.json"
find "$out/rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$out/rootfs" -cf "$out/layer.tar" .

# crane assembles images in a registry: an in-memory one on loopback, for this build only.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$crane" registry serve --address "127.0.0.1:$port" >"$out/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref="127.0.0.1:$port/accord:$version"
"$crane" append --oci-empty-base --new_layer "$out/layer.tar" --new_tag "$ref" >/dev/null
"$crane" mutate "$ref" --tag "$ref" --entrypoint /accord --user 65532:65532 \
  --exposed-ports 8080,9443 --set-platform linux/amd64 \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.source=https://github.com/accord-dev/accord" \
  --label "org.opencontainers.image.licenses=Apache-2.0" >/dev/null
digest="$("$crane" digest "$ref")"
"$crane" pull --format=oci "$ref" "$out/oci"
echo "$digest" > "$out/digest"
say "accord $version ($commit) built: $digest"
say "  OCI layout: $out/oci; SBOM: $out/sbom.spdx.json"
echo "$digest"
