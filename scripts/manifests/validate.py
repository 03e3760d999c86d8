#!/usr/bin/env python3
"""Offline validation of the Kubernetes manifests (the `make manifests` pipeline).

Steps, all offline once the tools and schemas are in place:
  1. render  every overlay under ROOT/kustomize/overlays with the pinned kustomize
             into OUT/<env>.yaml, and every cluster-scoped set under
             ROOT/kustomize/cluster into OUT/cluster-<set>.yaml
  2. schema  kubeconform -strict over the rendered files and every YAML file in
             ROOT/argocd, against the Kubernetes schemas of one stated version and
             the CRD schemas; an object without a schema FAILS (no
             -ignore-missing-schemas)
  3. policy  scripts/manifests/policy.py rules (namespace, release image,
             autoscaling, default deny, secrets, TLS issuer, sync waves,
             connection budget, cluster sets, Argo CD project/apps)

Settings come from options or the environment (make passes them):
  KUSTOMIZE, KUBECONFORM, KUBERNETES_VERSION, K8S_SCHEMA_DIR, CRD_SCHEMA_LOCATION.
CRD_SCHEMA_LOCATION is a kubeconform template (URL or path with {{.Group}}...)
or a plain folder laid out as {group}/{kind}_{version}.json.
Exit status 0 when everything passes, 1 on a finding, 2 on bad usage/setup.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import policy

DEFAULT_CRD_LOCATION = (
    "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/"
    "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
)
CRD_TEMPLATE_SUFFIX = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
K8S_TEMPLATE_SUFFIX = (
    "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)


def die(message: str) -> None:
    print(f"validate: {message}", file=sys.stderr)
    sys.exit(2)


def crd_location(value: str) -> str:
    if "{{" in value:
        return value
    if value.startswith(("http://", "https://")):
        return value.rstrip("/") + "/" + CRD_TEMPLATE_SUFFIX
    folder = Path(value)
    if not folder.is_dir():
        die(f"CRD_SCHEMA_LOCATION {value!r} is neither a template nor an existing folder")
    return str(folder.resolve()) + "/" + CRD_TEMPLATE_SUFFIX


def render(kustomize: str, builds: dict[str, Path], out: Path) -> tuple[dict, list[str]]:
    """Build each kustomization of `builds` (name -> folder) into OUT/<name>.yaml."""
    out.mkdir(parents=True, exist_ok=True)
    rendered, failures, running = {}, [], {}
    for name, folder in builds.items():  # the builds run concurrently
        if not folder.is_dir():
            failures.append(f"render {name}: {folder} does not exist")
            continue
        running[name] = (
            folder,
            subprocess.Popen(
                [kustomize, "build", str(folder)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    for name, (folder, process) in running.items():
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            error = stderr.strip().replace("\n", " | ")
            failures.append(f"render {name}: kustomize build {folder} failed: {error}")
            continue
        target = out / f"{name}.yaml"
        target.write_text(stdout)
        rendered[name] = policy.load_documents(target)
        print(f"render   {name}: {len(rendered[name])} objects -> {target}")
    return rendered, failures


def schema_check(args, files: list[Path]) -> list[str]:
    k8s_dir = Path(args.k8s_schema_dir)
    if not (k8s_dir / f"v{args.k8s_version}-standalone-strict").is_dir():
        die(
            f"no Kubernetes {args.k8s_version} schemas in {k8s_dir}; "
            "run scripts/manifests/build-k8s-schemas.py (make tools)"
        )
    command = [
        args.kubeconform,
        "-strict",
        "-summary",
        "-output",
        "text",
        "-kubernetes-version",
        args.k8s_version,
        "-schema-location",
        str(k8s_dir.resolve()) + "/" + K8S_TEMPLATE_SUFFIX,
        "-schema-location",
        crd_location(args.crd_schema_location),
    ]
    if args.crd_schema_location.startswith(("http://", "https://")):
        cache = Path(args.out).parent / "kubeconform-cache"
        cache.mkdir(parents=True, exist_ok=True)
        command += ["-cache", str(cache)]
    result = subprocess.run(
        command + [str(f) for f in files], capture_output=True, text=True, check=False
    )
    output = (result.stdout + result.stderr).strip()
    print("\n".join(f"schema   {line}" for line in output.splitlines()))
    if result.returncode != 0:
        return [
            f"schema: {line}" for line in output.splitlines() if not line.startswith("Summary:")
        ] or [f"schema: kubeconform exited with {result.returncode}"]
    return []


def main() -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description="Render and validate the Kubernetes manifests.")
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument("--out", default=".cache/rendered", help="rendered output folder")
    parser.add_argument("--kustomize", default=env.get("KUSTOMIZE", ".tools/bin/kustomize"))
    parser.add_argument("--kubeconform", default=env.get("KUBECONFORM", ".tools/bin/kubeconform"))
    parser.add_argument("--k8s-version", default=env.get("KUBERNETES_VERSION", "1.33.0"))
    parser.add_argument("--k8s-schema-dir", default=env.get("K8S_SCHEMA_DIR", ".cache/k8s-schemas"))
    parser.add_argument(
        "--crd-schema-location", default=env.get("CRD_SCHEMA_LOCATION") or DEFAULT_CRD_LOCATION
    )
    parser.add_argument("--envs", default=",".join(policy.ENVIRONMENTS))
    args = parser.parse_args()

    root = Path(args.root)
    for tool in (args.kustomize, args.kubeconform):
        if not os.access(tool, os.X_OK):
            die(f"{tool} is not an executable; run 'make tools'")
    envs = [e for e in args.envs.split(",") if e]
    unknown = set(envs) - set(policy.ENVIRONMENTS)
    if unknown:
        die(f"unknown environment(s): {', '.join(sorted(unknown))}")

    builds = {env: root / "kustomize" / "overlays" / env for env in envs}
    builds |= {
        f"cluster-{name}": root / "kustomize" / "cluster" / name for name in policy.CLUSTER_SETS
    }
    rendered, failures = render(args.kustomize, builds, Path(args.out))
    argocd_files = sorted((root / "argocd").rglob("*.yaml"))
    files = [Path(args.out) / f"{name}.yaml" for name in rendered] + argocd_files
    failures += schema_check(args, files)

    findings = policy.check_kustomize_sources(root / "kustomize")
    by_source = {}
    for env in envs:
        if env in rendered:
            findings += policy.check_environment(env, rendered[env])
            by_source[f"kustomize/overlays/{env}"] = rendered[env]
    for name in policy.CLUSTER_SETS:
        if f"cluster-{name}" in rendered:
            findings += policy.check_cluster_set(name, rendered[f"cluster-{name}"])
            by_source[f"kustomize/cluster/{name}"] = rendered[f"cluster-{name}"]
    argocd_docs = [(p, d) for p in argocd_files for d in policy.load_documents(p)]
    findings += policy.check_argocd(root, argocd_docs, by_source)
    failures += [f"policy: {v}" for v in findings]
    print(f"policy   {len(findings)} finding(s) over {len(rendered)} rendered set(s)")

    if failures:
        print(f"\nvalidate: FAILED ({len(failures)} problem(s)):", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("validate: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
