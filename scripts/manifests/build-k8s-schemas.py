#!/usr/bin/env python3
"""Turn the Kubernetes JSON schemas shipped by the PyPI package
``kubernetes-validate`` into standalone schemas that kubeconform can read
offline.

The packaged schemas keep their definitions in a shared ``_definitions.json``
and point at it with ``$ref: /api/_definitions.json#/$defs/NAME``. kubeconform
needs one self-contained file per kind, so for every kind this script copies
the transitive closure of referenced definitions into the file's own
``$defs`` and rewrites each reference to ``#/$defs/NAME``. Recursive types
(for example ``JSONSchemaProps``) stay finite because they are referenced,
not expanded.

Output layout (what kubeconform's -schema-location template expects):
    OUT/v<VERSION>-standalone-strict/<kind>[-<group>]-<version>.json

Usage: build-k8s-schemas.py --version 1.33.0 --out .cache/k8s-schemas
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def ref_name(ref: str) -> str:
    for prefix in REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    fail(f"unexpected $ref form {ref!r}")


def fail(message: str) -> NoReturn:
    print(f"build-k8s-schemas: {message}", file=sys.stderr)
    sys.exit(1)


def find_source(version: str) -> Path:
    try:
        import kubernetes_validate  # type: ignore
    except ImportError:
        fail(
            "the Python package 'kubernetes-validate' is not installed in this interpreter "
            f"({sys.executable}); run 'make tools'"
        )
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    src = root / f"v{version}-local-strict"
    if not src.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.name.endswith("-local-strict"))
        fail(
            f"no strict schemas for Kubernetes {version} in kubernetes-validate "
            f"(available: {', '.join(available)})"
        )
    return src


def collect_refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref_name(ref))
        for value in node.values():
            collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            collect_refs(value, found)


def rewrite_refs(node):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = "#/$defs/" + ref_name(value)
            else:
                out[key] = rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [rewrite_refs(v) for v in node]
    return node


def standalone(schema: dict, definitions: dict) -> dict:
    needed: set[str] = set()
    pending: set[str] = set()
    collect_refs(schema, pending)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in definitions:
            fail(f"definition {name!r} referenced but missing from _definitions.json")
        needed.add(name)
        more: set[str] = set()
        collect_refs(definitions[name], more)
        pending |= more - needed
    result = {k: v for k, v in schema.items() if k != "$id"}
    result = rewrite_refs(result)
    if needed:
        result["$defs"] = {name: rewrite_refs(definitions[name]) for name in sorted(needed)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="Kubernetes version, e.g. 1.33.0")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()

    src = find_source(args.version)
    definitions = json.loads((src / "_definitions.json").read_text())["$defs"]
    dest = Path(args.out) / f"v{args.version}-standalone-strict"
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(src.glob("*.json")):
        if path.name in ("_definitions.json", "all.json"):
            continue
        schema = json.loads(path.read_text())
        (tmp / path.name).write_text(json.dumps(standalone(schema, definitions)))
        count += 1
    if count == 0:
        fail(f"no schemas found in {src}")
    if dest.exists():
        for old in dest.iterdir():
            old.unlink()
        dest.rmdir()
    os.replace(tmp, dest)
    print(
        f"build-k8s-schemas: wrote {count} standalone schemas "
        f"for Kubernetes {args.version} to {dest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
