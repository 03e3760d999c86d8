#!/usr/bin/env python3
"""promtool over the alert rules each overlay renders (`make alerts-test`).

For every rendered overlay that has a PrometheusRule, the rules go into a
Prometheus rules file; `promtool check rules` checks it, then every unit-test
file of tests/alerts runs against it with NAMESPACE written as that
overlay's namespace. An overlay without the monitoring component (dev) has
no rules and is reported as such. Exit 0 when everything passes, 1 on a
failure, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PLACEHOLDER = "NAMESPACE"


def rules_of(rendered: Path) -> tuple[str | None, dict]:
    """(namespace, rules file content) of one rendered overlay's PrometheusRules."""
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if isinstance(d, dict)]
    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    if not rules:
        return None, {}
    namespaces = {r["metadata"].get("namespace") for r in rules}
    if len(namespaces) != 1:
        raise SystemExit(f"test-alerts: {rendered}: PrometheusRules in {sorted(namespaces)}")
    return namespaces.pop(), {"groups": [g for r in rules for g in r["spec"]["groups"]]}


def unscoped(namespace: str, rules: dict) -> list[str]:
    """Rules whose expression does not select this namespace."""
    matcher = f'namespace="{namespace}"'
    return [
        rule.get("alert") or rule.get("record")
        for group in rules["groups"]
        for rule in group["rules"]
        if matcher not in str(rule["expr"]) or PLACEHOLDER in str(rule["expr"])
    ]


def run(command: list[str]) -> bool:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    output = (result.stdout + result.stderr).strip()
    print("\n".join(f"    {line}" for line in output.splitlines()))
    return result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--tests", type=Path, default=Path("tests/alerts"))
    parser.add_argument("rendered", type=Path, nargs="+", help="rendered overlays (ENV.yaml)")
    args = parser.parse_args()
    tests = sorted(args.tests.glob("*.yaml"))
    if not tests:
        print(f"test-alerts: no test files in {args.tests}", file=sys.stderr)
        return 2

    failed, tested = [], 0
    with tempfile.TemporaryDirectory(prefix="alerts-") as scratch:
        for rendered in args.rendered:
            env = rendered.stem
            namespace, rules = rules_of(rendered)
            if namespace is None:
                print(f"alerts {env}: no PrometheusRule rendered (no monitoring component)")
                continue
            tested += 1
            print(
                f"alerts {env}: {sum(len(g['rules']) for g in rules['groups'])} rules in {namespace}"
            )
            folder = Path(scratch) / env
            folder.mkdir()
            (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
            if missing := unscoped(namespace, rules):
                failed.append(f"{env}: not scoped to {namespace}: {', '.join(missing)}")
            if not run([args.promtool, "check", "rules", str(folder / "rules.yaml")]):
                failed.append(f"{env}: promtool check rules")
            for test in tests:
                target = folder / test.name
                target.write_text(test.read_text().replace(PLACEHOLDER, namespace))
                # promtool resolves rule_files relative to the test file.
                if not run([args.promtool, "test", "rules", str(target)]):
                    failed.append(f"{env}: {test}")
    if not tested:
        failed.append("no rendered overlay has alert rules")
    if failed:
        print("test-alerts: FAILED\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    print(f"test-alerts: OK ({tested} overlays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
