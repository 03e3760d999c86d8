"""scripts/gitops/diff-overlays.sh against a throwaway repository."""

from __future__ import annotations

import re

import pytest

from tests.gitops.helpers import Repo

MARKER = "<!-- gold-platform:manifests-diff -->"

# The fixture's base deployment, rewritten with the same meaning: flow and
# block styles swapped, keys reordered, quotes added, comments and blank lines.
DEPLOYMENT_REFORMATTED = """\
# Deployment of the API (formatting-only rewrite)
kind: Deployment
apiVersion: "apps/v1"
metadata: {name: gold-platform}
spec:
    template:
        spec:
            containers:
            -   image: 'gold-platform'
                name: "api"
                readinessProbe:
                    httpGet:
                        port: http
                        path: /health/ready
                ports: [{name: http, containerPort: 8080}]   # one port
                args:
                - serve

    replicas: 1
"""


def run_diff(repo: Repo, *args: str, md: bool = True):
    out = repo.path.parent / "comment.md"
    extra = ["--markdown", str(out)] if md else []
    res = repo.run("diff-overlays.sh", *extra, *args)
    return res, (out.read_text() if md and out.exists() else "")


def test_change_to_one_environment_is_shown_for_that_environment_only(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    overlay = "kustomize/overlays/prod/kustomization.yaml"
    repo.write(overlay, repo.read(overlay).replace("value: 3", "value: 5"))
    head = repo.commit_all("prod: 5 replicas")

    res, md = run_diff(repo, base, head)

    assert res.returncode == 0, res.stderr
    assert "== prod: changed (+1 -1)" in res.stdout
    assert "-  replicas: 3" in res.stdout
    assert "+  replicas: 5" in res.stdout
    for other in ("dev", "staging", "argocd"):
        assert f"== {other}: no change" in res.stdout
    assert "rendered manifests changed in: prod (unchanged: dev staging argocd)" in res.stdout
    assert md.startswith(MARKER + "\n")
    assert "| `prod` | **changed**: +1 \u22121 lines |" in md
    assert "| `dev` | no change |" in md
    assert md.count("<details>") == 1
    assert "+  replicas: 5" in md


def test_target_limits_the_diff_to_one_environment(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    for env in ("staging", "prod"):
        overlay = f"kustomize/overlays/{env}/kustomization.yaml"
        repo.write(overlay, repo.read(overlay).replace("value: ", "value: 1"))
    head = repo.commit_all("staging and prod: more replicas")

    res, md = run_diff(repo, "--target", "prod", base, head)

    assert res.returncode == 0, res.stderr
    assert "== prod: changed" in res.stdout and "== staging" not in res.stdout
    assert "rendered manifests changed in: prod (unchanged: none)" in res.stdout
    assert "| `prod` | **changed**" in md and "`staging`" not in md
    unknown = repo.run("diff-overlays.sh", "--target", "qa", base, head)
    assert unknown.returncode != 0
    assert "target 'qa' exists at neither revision" in unknown.stderr


def test_formatting_only_changes_report_no_change(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    repo.write("kustomize/base/deployment.yaml", DEPLOYMENT_REFORMATTED)
    overlay = "kustomize/overlays/dev/kustomization.yaml"
    text = re.sub(r"(?m)^  - (\.\./\.\./base|version)$", r"- \1", repo.read(overlay))
    repo.write(overlay, "# dev overlay\n" + text.replace("gold-dev", '"gold-dev"'))
    app = "argocd/apps/prod.yaml"
    repo.write(app, repo.read(app).replace("project: default", "project: 'default'  # quoted"))
    head = repo.commit_all("reformat YAML only")
    assert repo.git("diff", "--stat", base, head)  # the files did change

    res, md = run_diff(repo, base, head)

    assert res.returncode == 0, res.stderr
    assert "no change in the rendered manifests of: dev staging prod argocd" in res.stdout
    assert "changed" not in res.stdout
    assert md.startswith(MARKER + "\n")
    assert "**No change.**" in md
    assert "<details>" not in md


def test_work_tree_is_the_default_head(repo: Repo):
    app = "argocd/apps/staging.yaml"
    repo.write(app, repo.read(app).replace("targetRevision: main", "targetRevision: release"))

    res, _ = run_diff(repo, "HEAD", md=False)

    assert res.returncode == 0, res.stderr
    assert "== argocd: changed (+1 -1)" in res.stdout
    assert "+    targetRevision: release" in res.stdout
    assert "== staging: no change" in res.stdout


def test_merge_base_ignores_what_main_gained_meanwhile(repo: Repo):
    repo.git("checkout", "-q", "-b", "feature")
    overlay = "kustomize/overlays/staging/kustomization.yaml"
    repo.write(overlay, repo.read(overlay).replace("gold-staging", "gold-stage"))
    head = repo.commit_all("feature: rename staging namespace")
    repo.git("checkout", "-q", "main")
    overlay = "kustomize/overlays/dev/kustomization.yaml"
    repo.write(overlay, repo.read(overlay).replace("value: 1", "value: 2"))
    repo.commit_all("main: dev replicas")

    res, _ = run_diff(repo, "--merge-base", "main", head, md=False)

    assert res.returncode == 0, res.stderr
    assert "rendered manifests changed in: staging (unchanged: dev prod argocd)" in res.stdout


def test_added_overlay_is_reported_as_added(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    repo.write("kustomize/overlays/qa/kustomization.yaml", "resources:\n  - ../../base\n")
    head = repo.commit_all("qa overlay")

    res, md = run_diff(repo, base, head)

    assert res.returncode == 0, res.stderr
    assert "== qa: added" in res.stdout
    assert "| `qa` | **added**" in md


def test_huge_diff_is_truncated_to_fit_the_comment(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    data = "".join(f"  key{i:05d}: value-{i:05d}-{'x' * 40}\n" for i in range(3000))
    repo.write(
        "kustomize/base/config.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n{data}",
    )
    kz = "kustomize/base/kustomization.yaml"
    repo.write(kz, repo.read(kz) + "  - config.yaml\n")
    head = repo.commit_all("big configmap")

    out = repo.path.parent / "comment.md"
    res = repo.run(
        "diff-overlays.sh",
        "--markdown",
        str(out),
        "--max-chars",
        "20000",
        "--run-url",
        "https://github.example/runs/1",
        base,
        head,
    )

    assert res.returncode == 0, res.stderr
    md = out.read_text()
    assert len(md.encode()) <= 20000
    # the base changed, so dev, staging and prod are each cut; argocd is unchanged
    assert md.count(":warning: Truncated:") == 3
    assert md.count("`````") % 2 == 0  # every code fence closed
    assert md.count("<details>") == md.count("</details>")
    assert "[workflow run](https://github.example/runs/1)" in md
    # the full diff still goes to stdout
    assert res.stdout.count("value-02999-") == 3


def test_render_failure_at_head_fails_with_a_message(repo: Repo):
    base = repo.git("rev-parse", "HEAD")
    overlay = "kustomize/overlays/staging/kustomization.yaml"
    repo.write(overlay, repo.read(overlay).replace("../../base", "../../missing"))
    head = repo.commit_all("break staging")

    res, md = run_diff(repo, base, head)

    assert res.returncode == 1
    assert "render failed at head for: staging" in res.stderr
    assert "| `staging` | **render failed at head**" in md
    assert "== dev: no change" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing BASE"),
        (["no-such-branch"], "unknown git revision 'no-such-branch'"),
        (["HEAD", "HEAD", "HEAD"], "unexpected argument"),
        (["--max-chars", "lots", "HEAD"], "--max-chars needs a number"),
        (["--markdown"], "--markdown needs a file"),
        (["--target"], "--target needs an overlay name"),
        (["--run-url", "javascript:alert(1)", "HEAD"], "--run-url needs an http(s) URL"),
        (["--bogus", "HEAD"], "unknown option"),
    ],
)
def test_diff_rejects_bad_input(repo: Repo, args, message):
    res = repo.run("diff-overlays.sh", *args)

    assert res.returncode != 0
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
