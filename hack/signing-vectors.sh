#!/usr/bin/env bash
# Regenerates the SSHSIG test vectors in testdata/signing/ with the machine's OpenSSH:
# one throw-away key per type signs the statement below (written here by hand, so the
# unit tests check Accord's statement builder against an independent spelling of it).
# Private keys are generated in a temporary directory and never kept. The security-key
# vector needs a FIDO token; hack/sk-soft is a software one OpenSSH loads instead.
#
# Usage: hack/signing-vectors.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../testdata/signing"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

cat > "$out/statement.txt" <<'STATEMENT'
accord.dev/attestation/v1
namespace: payments
modelDeployment: fraud-scorer
item: data-drift-checked
version: 2.4.0
digest: sha256:9406f2a0c7e4d1b3a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8
candidate: sha256:5b1c0e3f7a9d2b4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d
evidence: https://ci.example.com/runs/1234
signer: alice
signedAt: 2026-11-28T10:00:00Z
STATEMENT

# name, then the ssh-keygen arguments choosing its type
while read -r name args; do
  # shellcheck disable=SC2086 # $args is a list of ssh-keygen flags
  ssh-keygen -q $args -N '' -C "alice@vectors" -f "$work/$name"
  cp "$work/$name.pub" "$out/$name.pub"
  ssh-keygen -q -Y sign -n attestation@accord.dev -f "$work/$name" < "$out/statement.txt" > "$out/$name.sig"
  # The same key signing the statement with CRLF line endings (an editor on Windows).
  sed 's/$/\r/' "$out/statement.txt" | ssh-keygen -q -Y sign -n attestation@accord.dev -f "$work/$name" > "$out/$name.crlf.sig"
  # And signing it for another namespace (as a Git commit signature would be).
  ssh-keygen -q -Y sign -n git -f "$work/$name" < "$out/statement.txt" > "$out/$name.git.sig"
  # OpenSSH itself accepts what it made.
  printf 'alice %s\n' "$(cat "$out/$name.pub")" > "$work/allowed"
  ssh-keygen -q -Y verify -n attestation@accord.dev -f "$work/allowed" -I alice \
    -s "$out/$name.sig" < "$out/statement.txt" >/dev/null
done <<'KEYS'
ed25519 -t ed25519
ecdsa_p256 -t ecdsa -b 256
ecdsa_p384 -t ecdsa -b 384
KEYS
# An RSA public key, which Accord refuses (no RSA verification without a failing advisory).
ssh-keygen -q -t rsa -b 2048 -N '' -C "alice@vectors" -f "$work/rsa"
cp "$work/rsa.pub" "$out/rsa.pub"
# A security-key (sk-ssh-ed25519) vector: OpenSSH makes the key and the signature
# through its FIDO middleware interface, with hack/sk-soft standing in for the token.
cargo build -q --release --manifest-path "$here/sk-soft/Cargo.toml" --target-dir "$work/target"
provider="$work/target/release/libaccord_sk_soft.so"
ssh-keygen -q -t ed25519-sk -w "$provider" -N '' -C "alice@vectors" -f "$work/sk_ed25519" </dev/null
cp "$work/sk_ed25519.pub" "$out/sk_ed25519.pub"
SSH_SK_PROVIDER="$provider" ssh-keygen -q -Y sign -n attestation@accord.dev -f "$work/sk_ed25519" \
  < "$out/statement.txt" > "$out/sk_ed25519.sig"
# The same, reported by the token as made without user presence (no touch).
SK_SOFT_NO_TOUCH=1 SSH_SK_PROVIDER="$provider" ssh-keygen -q -Y sign -n attestation@accord.dev \
  -f "$work/sk_ed25519" < "$out/statement.txt" > "$out/sk_ed25519.notouch.sig"
printf 'alice %s\n' "$(cat "$out/sk_ed25519.pub")" > "$work/allowed"
ssh-keygen -q -Y verify -n attestation@accord.dev -f "$work/allowed" -I alice \
  -s "$out/sk_ed25519.sig" < "$out/statement.txt" >/dev/null
# OpenSSH's own `-Y verify` accepts the no-touch signature too (allowed_signers has no
# touch-required option); Accord refuses it, and the unit tests check that it does.

ssh -V 2>&1 | sed 's/^/made with /' > "$out/OPENSSH_VERSION"
echo "wrote the vectors to $out"
