#!/usr/bin/env python3
"""Verifies an export of Accord's signed audit records with tools Accord did not write.

Usage: verify_independent.py [--schema SCHEMA.json] RECORDS.jsonl KEY.pem [KEY.pem ...]

RECORDS.jsonl is what `kubectl accord audit export` writes: one DSSE envelope of JSON per
line (blank lines are skipped). Each KEY.pem holds one or more ed25519 public keys as PEM
SubjectPublicKeyInfo blocks (`-----BEGIN PUBLIC KEY-----`), as the ConfigMap
`accord-record-keys` publishes them.

For every envelope, with Python's own implementations only:

1. its payloadType is in-toto's (`in_toto.models.metadata.ENVELOPE_PAYLOAD_TYPE`);
2. its signature verifies with securesystemslib's DSSE (`securesystemslib.dsse.Envelope`,
   `SSlibKey`), a key's id being the hex sha256 of its SubjectPublicKeyInfo DER;
3. its payload is an in-toto Statement v1 by the in-toto attestation framework's own
   validation (`in_toto_attestation.v1.statement.Statement.validate`), every subject
   named by a sha256 digest, and its predicateType is the `$id` of the schema;
4. its predicate validates with `jsonschema` against the JSON Schema (default: the
   repository's docs/promotion-predicate.schema.json, draft 2020-12, formats checked).

Prints one line per record, `ok <namespace>/<name> seq=<n> <action> <version>` or
`FAIL line <n>: <why>`, and a summary on stderr. Exits 1 when any record failed (or the
file holds none), 2 on a usage error (unreadable keys or schema), else 0.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

import google.protobuf.json_format as pb_json
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from in_toto.models.metadata import ENVELOPE_PAYLOAD_TYPE
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import STATEMENT_TYPE_URI, Statement
from jsonschema import Draft202012Validator
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

DEFAULT_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "promotion-predicate.schema.json"
PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.DOTALL)
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Failed(Exception):
    """Why one record does not verify."""


def load_keys(paths: list[str]) -> list[SSlibKey]:
    """Every ed25519 public key in the PEM files, as securesystemslib keys whose keyid is
    the hex sha256 of the SubjectPublicKeyInfo DER (as Accord's envelopes name them)."""
    keys = []
    for path in paths:
        text = Path(path).read_text()
        blocks = PEM_BLOCK.findall(text)
        if not blocks:
            raise ValueError(f"{path}: no -----BEGIN PUBLIC KEY----- block")
        for n, block in enumerate(blocks, 1):
            public = load_pem_public_key(block.encode())
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError(f"{path}: key {n} is not ed25519")
            der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            keyid = hashlib.sha256(der).hexdigest()
            keys.append(SSlibKey.from_crypto(public, keyid=keyid))
    return keys


def check_signature(data: dict, keys: list[SSlibKey]) -> bytes:
    """The envelope's payload once its signature verified with one of `keys`."""
    if not isinstance(data, dict):
        raise Failed("not a DSSE envelope (a JSON object)")
    payload_type = data.get("payloadType")
    if payload_type != ENVELOPE_PAYLOAD_TYPE:
        raise Failed(f"payloadType is {payload_type!r}, not {ENVELOPE_PAYLOAD_TYPE!r}")
    try:
        # from_dict consumes the signature dicts: give it a copy.
        envelope = Envelope.from_dict(copy.deepcopy(data))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise Failed(f"not a DSSE envelope: {type(err).__name__} {err}") from err
    if not envelope.signatures:
        raise Failed("the envelope has no signature")
    try:
        envelope.verify(keys, 1)
    except VerificationError as err:
        keyids = ", ".join(sorted(envelope.signatures))
        if not any(key.keyid in envelope.signatures for key in keys):
            raise Failed(f"signed by keyid {keyids}, which none of the given keys has") from err
        raise Failed(
            f"signature by keyid {keyids} does not verify: the payload or the signature was changed ({err})"
        ) from err
    return envelope.payload


def check_statement(payload: bytes, predicate_type: str) -> dict:
    """The Statement in `payload`, once it is a valid in-toto Statement v1 of `predicate_type`."""
    try:
        text = payload.decode("utf-8")
        statement = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Failed(f"the payload is not JSON: {err}") from err
    if not isinstance(statement, dict):
        raise Failed("the payload is not a JSON object")
    try:
        proto = pb_json.Parse(text, statement_pb2.Statement())
        Statement.copy_from_pb(proto).validate()
    except (pb_json.ParseError, ValueError) as err:
        raise Failed(f"not an in-toto Statement v1: {err}") from err
    # The proto reads `_type` by its JSON name; the raw JSON must agree too.
    if statement.get("_type") != STATEMENT_TYPE_URI:
        raise Failed(f"_type is {statement.get('_type')!r}, not {STATEMENT_TYPE_URI!r}")
    for i, subject in enumerate(statement["subject"]):
        digest = subject.get("digest", {}).get("sha256", "")
        if not SHA256_HEX.fullmatch(digest):
            raise Failed(f"subject {i} ({subject.get('name')!r}) has no sha256 digest of 64 lowercase hex")
    if statement.get("predicateType") != predicate_type:
        raise Failed(f"predicateType is {statement.get('predicateType')!r}, not {predicate_type!r}")
    return statement


def check_predicate(predicate: object, validator: Draft202012Validator) -> None:
    errors = sorted(validator.iter_errors(predicate), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Failed(f"the predicate does not match the schema at {where}: {first.message}{more}")


def verify_line(line: str, keys: list[SSlibKey], validator: Draft202012Validator, predicate_type: str) -> str:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise Failed(f"not JSON: {err}") from err
    payload = check_signature(data, keys)
    statement = check_statement(payload, predicate_type)
    predicate = statement["predicate"]
    check_predicate(predicate, validator)
    model = predicate["model"]
    return (
        f"ok {model['namespace']}/{model['name']} seq={predicate['sequence']} "
        f"{predicate['action']} {predicate['version']}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="the predicate's JSON Schema")
    parser.add_argument("records", help="JSON lines, one DSSE envelope each")
    parser.add_argument("keys", nargs="+", help="PEM files of ed25519 public keys")
    args = parser.parse_args(argv)
    try:
        keys = load_keys(args.keys)
        schema = json.loads(Path(args.schema).read_text())
        Draft202012Validator.check_schema(schema)
        predicate_type = schema["$id"]
        text = Path(args.records).read_text()
    except (OSError, ValueError, KeyError, UnsupportedAlgorithm) as err:
        print(f"verify_independent: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    ok = failed = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            print(verify_line(line, keys, validator, predicate_type))
            ok += 1
        except Failed as why:
            print(f"FAIL line {n}: {why}")
            failed += 1
        except Exception as err:  # noqa: BLE001 - a malformed record must not hide the rest
            print(f"FAIL line {n}: unexpected {type(err).__name__}: {err}")
            failed += 1
    print(
        f"{ok + failed} records in {args.records}: {ok} verified, {failed} failed "
        f"({len(keys)} keys; securesystemslib DSSE, in-toto Statement v1, {predicate_type} schema)",
        file=sys.stderr,
    )
    if ok + failed == 0:
        print(f"FAIL: {args.records} holds no envelope", file=sys.stdout)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
