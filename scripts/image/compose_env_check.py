#!/usr/bin/env python3
"""No drift between compose.yaml and the service's settings.

For every service of compose.yaml that runs the project's image (it has a
`build:` or its image is gold-platform), checks that:
  1. every environment variable it sets is one the service reads: a name read
     in src/gold_platform/ through `reader.get("NAME", ...)` (settings.py),
     `os.environ.get/setdefault/pop("NAME")`, `os.environ["NAME"]` or
     `os.getenv("NAME")`, found by parsing the source (nothing is imported);
  2. with --validate, the values pass the service's own start-up validation
     (gold_platform.settings.Settings.from_env), so a bad value fails here
     rather than at `compose up`.

Usage: compose_env_check.py [--compose compose.yaml] [--src src/gold_platform] [--validate]
Exit 0 when clean, 1 on drift, 2 on bad input.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
READ_METHODS = {"get", "setdefault", "pop", "getenv"}
ENV_RECEIVERS = {"environ", "env", "reader", "os"}


def _receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):  # e.g. _Reader(env).get(...)
        return _receiver_name(node.func)
    return ""


def env_reads(source: str, filename: str) -> set[str]:
    """Names of environment variables a module reads (string literals only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in READ_METHODS or not node.args:
                continue
            receiver = _receiver_name(node.func.value)
            if receiver not in ENV_RECEIVERS and not receiver.lower().endswith(("environ", "env")):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if ENV_NAME.match(first.value):
                    names.add(first.value)
        elif isinstance(node, ast.Subscript) and _receiver_name(node.value).endswith("environ"):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                if ENV_NAME.match(key.value):
                    names.add(key.value)
    return names


def service_reads(src: Path) -> dict[str, list[str]]:
    """NAME -> modules (relative paths) that read it."""
    found: dict[str, list[str]] = {}
    for path in sorted(src.rglob("*.py")):
        for name in env_reads(path.read_text(encoding="utf-8"), str(path)):
            found.setdefault(name, []).append(str(path.relative_to(src.parent)))
    return found


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def app_services(compose: dict) -> dict[str, dict]:
    services = compose.get("services") or {}
    return {
        name: svc
        for name, svc in services.items()
        if "build" in svc or "gold-platform" in str(svc.get("image", ""))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compose", type=Path, default=Path("compose.yaml"))
    parser.add_argument("--src", type=Path, default=Path("src/gold_platform"))
    parser.add_argument("--validate", action="store_true", help="run Settings.from_env on each")
    args = parser.parse_args()

    try:
        import yaml
    except ImportError:
        print("compose-env-check: PyYAML is required (pip install pyyaml)", file=sys.stderr)
        return 2
    if not args.compose.is_file():
        print(f"compose-env-check: {args.compose} not found", file=sys.stderr)
        return 2
    if not (args.src / "settings.py").is_file():
        print(f"compose-env-check: {args.src}/settings.py not found", file=sys.stderr)
        return 2

    compose = yaml.safe_load(args.compose.read_text(encoding="utf-8")) or {}
    reads = service_reads(args.src)
    apps = app_services(compose)
    if not apps:
        print(f"compose-env-check: no service in {args.compose} runs the project's image")
        return 1

    problems: list[str] = []
    for name, svc in apps.items():
        env = _environment(svc)
        if svc.get("env_file"):
            problems.append(f"{name}: env_file is not checked; set variables under environment:")
        unknown = sorted(set(env) - set(reads))
        for var in unknown:
            problems.append(f"{name}: sets {var}, which the service never reads")
        print(
            f"compose-env-check: {name}: {len(env)} variables, all read by the service"
            if not unknown
            else f"compose-env-check: {name}: {len(unknown)} unknown"
        )
        if args.validate and not unknown:
            sys.path.insert(0, str(args.src.parent))
            from gold_platform.settings import Settings, SettingsError

            try:
                Settings.from_env(env)
            except SettingsError as exc:
                problems.append(f"{name}: {exc}")
    for problem in problems:
        print(f"compose-env-check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
