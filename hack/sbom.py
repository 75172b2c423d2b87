#!/usr/bin/env python3
"""Prints an SPDX 2.3 JSON SBOM of the operator from Cargo.lock: every crate it is built
from, with its version and crates.io checksum. Deterministic: the same lock file and
SOURCE_DATE_EPOCH give the same bytes."""
import hashlib
import json
import os
import sys
import tomllib
from datetime import datetime, timezone
from pathlib import Path

root = Path(__file__).resolve().parent.parent
lock = tomllib.loads((root / "Cargo.lock").read_text())
epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
created = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
version = sys.argv[1] if len(sys.argv) > 1 else "0.0.0"
packages, relationships = [], []
for index, pkg in enumerate(sorted(lock["package"], key=lambda p: (p["name"], p["version"]))):
    spdx_id = f"SPDXRef-Package-{index}"
    entry = {
        "SPDXID": spdx_id,
        "name": pkg["name"],
        "versionInfo": pkg["version"],
        "downloadLocation": "NOASSERTION",
        "licenseConcluded": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": f"pkg:cargo/{pkg['name']}@{pkg['version']}",
        }],
    }
    if "checksum" in pkg:
        entry["checksums"] = [{"algorithm": "SHA256", "checksumValue": pkg["checksum"]}]
    packages.append(entry)
    relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": spdx_id})
namespace_hash = hashlib.sha256((root / "Cargo.lock").read_bytes()).hexdigest()[:16]
doc = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": f"accord-{version}",
    "documentNamespace": f"https://accord.dev/spdx/accord-{version}-{namespace_hash}",
    "creationInfo": {"created": created, "creators": ["Tool: accord hack/sbom.py"]},
    "packages": packages,
    "relationships": relationships,
}
json.dump(doc, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
