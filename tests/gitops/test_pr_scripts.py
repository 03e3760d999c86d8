"""promotion-pr.sh and pr-comment.sh: real git (a bare remote), fake `gh`.

GitHub is out of reach here, so `gh` is tests/gitops/fake_gh.py (see its
docstring); git, kustomize, jq and the scripts themselves run for real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitops.helpers import PROD_APP, Repo, version_path

MARKER = "<!-- gold-platform:manifests-diff -->"
SHA = "a" * 40


@pytest.fixture()
def gh(tmp_path: Path):
    if shutil.which("jq") is None:
        pytest.fail("jq is required by these tests (apt-get install jq)", pytrace=False)
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    wrapper = bindir / "gh"
    fake = Path(__file__).with_name("fake_gh.py")
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    wrapper.chmod(0o755)
    state = tmp_path / "gh-state.json"
    state.write_text(json.dumps({"prs": [], "comments": [], "calls": []}))

    class GH:
        path = state

        def env(self, repo: Repo) -> dict[str, str]:
            return {
                "PATH": f"{bindir}:{repo.env['PATH']}",
                "FAKE_GH_STATE": str(state),
                "GH_TOKEN": "test-token",
            }

        def load(self) -> dict:
            return json.loads(state.read_text())

        def seed(self, **kw) -> None:
            s = self.load()
            s.update(kw)
            state.write_text(json.dumps(s))

    return GH()


@pytest.fixture()
def remote(repo: Repo, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True, env=repo.env
    )
    repo.git("remote", "add", "origin", str(bare))
    return bare


def remote_show(repo: Repo, bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), "show", *args],
        text=True,
        capture_output=True,
        check=True,
        env=repo.env,
    ).stdout


def test_promotion_pr_opens_one_pr_and_closes_stale_ones(repo: Repo, remote: Path, gh):
    gh.seed(
        prs=[
            {
                "number": 7,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "promote/staging/old",
                "title": "old",
            },
            {
                "number": 8,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "promote/prod/keep",
                "title": "prod",
            },
        ]
    )

    res = repo.run("promotion-pr.sh", "staging", extra_env=gh.env(repo))

    assert res.returncode == 0, res.stderr
    state = gh.load()
    new = next(p for p in state["prs"] if p["number"] == 9)
    assert new["headRefName"] == "promote/staging/" + "1" * 12
    assert new["title"].startswith("Promote gold-platform to staging: gold-platform@sha256:")
    assert MARKER in new["body"] and "| `staging` | **changed**" in new["body"]
    by_number = {p["number"]: p for p in state["prs"]}
    assert (
        by_number[7]["state"] == "closed" and by_number[7]["close_comment"] == "Superseded by #9."
    )
    assert by_number[8]["state"] == "open"  # another environment's PR is left alone
    # the branch holds exactly one commit on top of main, touching only staging's file
    files = remote_show(
        repo, remote, "--name-only", "--format=", "promote/staging/" + "1" * 12
    ).split()
    assert files == [version_path("staging")]
    assert repo.status() == []


def test_prod_promotion_pr_carries_the_pin_and_shows_what_prod_gets(
    repo: Repo, remote: Path, gh, kustomize: str
):
    running = repo.prod_pin()
    # A base change merged since prod's pin: it rides with this promotion, so
    # the PR shows it (main's own diff would show only the image).
    path = "kustomize/base/service.yaml"
    repo.write(path, repo.read(path).replace("      port: 80\n", "      port: 8080\n"))
    repo.commit_all("base: the Service listens on 8080")
    repo.git("push", "-q", "origin", "main")

    res = repo.run("promotion-pr.sh", "prod", extra_env=gh.env(repo))

    assert res.returncode == 0, res.stderr
    branch = "promote/prod/" + "2" * 12
    (pr,) = gh.load()["prs"]
    assert pr["headRefName"] == branch
    log = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "--format=%H %s", f"main..{branch}"],
        text=True, capture_output=True, check=True, env=repo.env,
    ).stdout.splitlines()  # fmt: skip
    (pin_commit, pin_subject), (version_commit, version_subject) = (
        line.split(" ", 1) for line in log
    )
    assert version_subject.startswith("gitops(prod): promote")
    assert pin_subject == f"gitops(prod): deploy {version_commit[:12]}"
    assert f"targetRevision: {version_commit}" in remote_show(repo, remote, f"{branch}:{PROD_APP}")
    # The body: prod's rendered manifests from the commit it runs to the new pin.
    body = pr["body"]
    assert f"prod runs `{running[:12]}` until then" in body
    assert f"`{running[:12]}` → `{pin_commit[:12]}`" in body
    assert "| `prod` | **changed**" in body and "`staging`" not in body
    assert "+    port: 8080" in body and "@sha256:" + "2" * 64 in body
    assert "Merge with a merge commit" in body
    assert repo.status() == []


def test_promotion_pr_reuses_the_open_pr_of_the_same_version(repo: Repo, remote: Path, gh):
    assert repo.run("promotion-pr.sh", "staging", extra_env=gh.env(repo)).returncode == 0
    repo.git("checkout", "-q", "main")

    res = repo.run("promotion-pr.sh", "staging", extra_env=gh.env(repo))

    assert res.returncode == 0, res.stderr
    prs = gh.load()["prs"]
    assert len(prs) == 1 and prs[0]["state"] == "open"
    assert "updated PR #1" in res.stderr


def test_promotion_pr_with_nothing_to_promote_closes_open_prs(repo: Repo, remote: Path, gh):
    repo.write(version_path("prod"), repo.read(version_path("staging")))
    promoted = repo.commit_all("prod already at staging's version")
    repo.write(PROD_APP, repo.read(PROD_APP).replace(repo.prod_pin(), promoted))
    repo.commit_all("prod pinned to it")
    gh.seed(
        prs=[
            {
                "number": 3,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "promote/prod/x",
                "title": "x",
            }
        ]
    )

    res = repo.run("promotion-pr.sh", "prod", extra_env=gh.env(repo))

    assert res.returncode == 0, res.stderr
    assert gh.load()["prs"][0]["state"] == "closed"
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert repo.status() == []


@pytest.mark.parametrize(
    "args, env, message",
    [
        ([], {}, "missing environment"),
        (["qa"], {}, "unknown environment 'qa'"),
        (["dev"], {}, "first environment"),
        (["staging"], {"GH_TOKEN": "", "GITHUB_TOKEN": ""}, "GH_TOKEN is not set"),
    ],
)
def test_promotion_pr_rejects_bad_input(repo: Repo, gh, args, env, message):
    res = repo.run("promotion-pr.sh", *args, extra_env={**gh.env(repo), **env})

    assert res.returncode != 0
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def write_body(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "comment.md"
    p.write_text(text)
    return p


def test_pr_comment_creates_then_updates_one_comment(repo: Repo, gh, tmp_path):
    gh.seed(
        prs=[
            {
                "number": 5,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "f",
                "title": "t",
                "head_sha": SHA,
            }
        ],
        comments=[{"id": 1, "pr": 5, "body": MARKER + "\nnot ours", "user": {"login": "someone"}}],
    )
    args = ["--repo", "o/r", "--head-sha", SHA]

    first = repo.run(
        "pr-comment.sh",
        *args,
        str(write_body(tmp_path, MARKER + "\nfirst\n")),
        extra_env=gh.env(repo),
    )
    second = repo.run(
        "pr-comment.sh",
        *args,
        "--pr",
        "5",
        str(write_body(tmp_path, MARKER + "\nsecond\n")),
        extra_env=gh.env(repo),
    )

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    ours = [c for c in gh.load()["comments"] if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1
    assert ours[0]["body"] == MARKER + "\nsecond\n"
    assert "updated comment" in second.stderr


def test_pr_comment_ignores_a_forged_pr_number(repo: Repo, gh, tmp_path):
    other = "b" * 40
    gh.seed(
        prs=[
            {
                "number": 1,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "victim",
                "title": "v",
                "head_sha": other,
            },
            {
                "number": 2,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "mine",
                "title": "m",
                "head_sha": SHA,
            },
        ]
    )
    body = write_body(tmp_path, MARKER + "\nhello\n")

    res = repo.run(
        "pr-comment.sh",
        "--repo",
        "o/r",
        "--head-sha",
        SHA,
        "--pr",
        "1",
        str(body),
        extra_env=gh.env(repo),
    )

    assert res.returncode == 0, res.stderr
    assert [c["pr"] for c in gh.load()["comments"]] == [2]


def test_pr_comment_cuts_an_oversized_body(repo: Repo, gh, tmp_path):
    gh.seed(
        prs=[
            {
                "number": 4,
                "state": "open",
                "baseRefName": "main",
                "headRefName": "f",
                "title": "t",
                "head_sha": SHA,
            }
        ]
    )
    body = write_body(tmp_path, MARKER + "\n" + "x" * 70000)

    res = repo.run(
        "pr-comment.sh", "--repo", "o/r", "--head-sha", SHA, str(body), extra_env=gh.env(repo)
    )

    assert res.returncode == 0, res.stderr
    text = gh.load()["comments"][0]["body"]
    assert len(text) < 65536
    assert "Comment cut" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--head-sha", SHA, "body.md"], "--repo OWNER/NAME is required"),
        (["--repo", "o/r", "--head-sha", "abc", "body.md"], "full 40-hex commit SHA"),
        (["--repo", "o/r", "--head-sha", SHA, "--pr", "1;rm", "body.md"], "invalid PR number"),
        (["--repo", "o/r", "--head-sha", SHA], "missing BODY_FILE"),
        (["--repo", "o/r", "--head-sha", SHA, "nope.md"], "body file not found"),
        (
            ["--repo", "o/r", "--head-sha", SHA, "unmarked.md"],
            "does not start with the manifests-diff marker",
        ),
    ],
)
def test_pr_comment_rejects_bad_input(repo: Repo, gh, args, message):
    (repo.path / "body.md").write_text(MARKER + "\n")
    (repo.path / "unmarked.md").write_text("hello\n")

    res = repo.run("pr-comment.sh", *args, extra_env=gh.env(repo))

    assert res.returncode != 0
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert gh.load()["comments"] == []
