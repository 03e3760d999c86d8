"""Kubeconform schemas generated from the real CRDs, for offline validation.

Reads CustomResourceDefinition files (scripts/cluster/crds.sh files lists
the pinned releases' own CRDs, from the Go module proxy) and writes one JSON
schema per served version as OUT/{group}/{kind}_{version}.json, the layout
of the public CRDs-catalog, so CRD_SCHEMA_LOCATION can point at either:

- each version's openAPIV3Schema as the schema;
- `x-kubernetes-int-or-string` becomes "string or integer";
- objects that list their properties refuse others (what the API server's
  strict field validation does), except where the CRD keeps unknown fields.

Usage: build-crd-schemas.py --out DIR CRD_FILE...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def strict(node: object, root: bool = False) -> object:
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items()}
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node.pop("format", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if (
        not root
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    return node


def schemas(crd: dict) -> dict[str, dict]:
    spec = crd["spec"]
    kind = spec["names"]["kind"].lower()
    out = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if schema is None:
            raise ValueError(f"{spec['group']}/{kind} {version['name']} has no openAPIV3Schema")
        out[f"{spec['group']}/{kind}_{version['name']}.json"] = strict(schema, root=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("crds", nargs="+", type=Path)
    args = parser.parse_args()
    written = 0
    for path in args.crds:
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in schemas(document).items():
                target = args.out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                written += 1
    if not written:
        print("build-crd-schemas: no CustomResourceDefinition found", file=sys.stderr)
        return 2
    print(f"build-crd-schemas: {written} schemas in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
