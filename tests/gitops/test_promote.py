"""scripts/gitops/promote.sh against a throwaway repository."""

from __future__ import annotations

import pytest

from tests.gitops.helpers import IMAGE_REPO, Repo, version_path


@pytest.mark.parametrize("target, source", [("staging", "dev"), ("prod", "staging")])
def test_promote_copies_exactly_the_version_file(repo: Repo, kustomize: str, target, source):
    untouched = {e: repo.read(version_path(e)) for e in ("dev", "staging", "prod") if e != target}
    others = {e: repo.build(kustomize, e) for e in untouched}

    res = repo.run("promote.sh", target)

    assert res.returncode == 0, res.stderr
    assert repo.status() == [f" M {version_path(target)}"]
    assert (repo.path / version_path(target)).read_bytes() == (
        repo.path / version_path(source)
    ).read_bytes()
    for e, text in untouched.items():
        assert repo.read(version_path(e)) == text
        assert repo.build(kustomize, e) == others[e]
    rendered = repo.build(kustomize, target)
    pin = "@sha256:" + ("1" * 64 if source == "dev" else "2" * 64)
    assert f"image: {IMAGE_REPO}{pin}" in rendered
    # only the image moved: the environment's own settings stay
    assert f"namespace: gold-{target}" in rendered


def test_promote_after_bump_carries_the_new_digest_to_staging(repo: Repo, kustomize: str):
    digest = "sha256:" + "cd" * 32
    assert repo.run("bump-image.sh", "--commit", digest).returncode == 0

    res = repo.run("promote.sh", "--commit", "staging")

    assert res.returncode == 0, res.stderr
    assert repo.git("show", "--name-only", "--format=", "HEAD").splitlines() == [
        version_path("staging")
    ]
    assert repo.git("log", "-1", "--format=%s").startswith("gitops(staging): promote")
    assert repo.status() == []
    assert f"image: {IMAGE_REPO}@{digest}" in repo.build(kustomize, "staging")
    assert f"image: {IMAGE_REPO}:0.1.0" in repo.build(kustomize, "prod")


def test_promote_with_nothing_to_promote_changes_nothing(repo: Repo):
    repo.write(version_path("staging"), repo.read(version_path("dev")))
    head = repo.commit_all("staging already equals dev")

    res = repo.run("promote.sh", "--commit", "staging")

    assert res.returncode == 0, res.stderr
    assert "nothing to promote" in res.stderr
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.status() == []


def test_promote_writes_github_outputs(repo: Repo, tmp_path):
    out = tmp_path / "gh-output"
    out.write_text("")

    res = repo.run("promote.sh", "prod", extra_env={"GITHUB_OUTPUT": str(out)})

    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert "changed=true" in lines
    assert "from=staging" in lines
    assert f"image={IMAGE_REPO}@sha256:{'2' * 64}" in lines


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing environment"),
        (["qa"], "unknown environment 'qa'"),
        (["dev"], "first environment"),
        (["staging", "prod"], "unexpected argument"),
        (["--force", "prod"], "unknown option"),
    ],
)
def test_promote_rejects_bad_input(repo: Repo, args, message):
    res = repo.run("promote.sh", *args)

    assert res.returncode != 0
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert repo.status() == []


def test_promote_refuses_a_dirty_tree(repo: Repo):
    repo.write("kustomize/base/service.yaml", repo.read("kustomize/base/service.yaml") + "# wip\n")

    res = repo.run("promote.sh", "staging")

    assert res.returncode != 0
    assert "uncommitted changes" in res.stderr
    assert repo.status() == [" M kustomize/base/service.yaml"]


def test_promote_fails_when_the_source_file_is_missing(repo: Repo):
    repo.git("rm", "-q", version_path("staging"))
    repo.commit_all("no staging version")

    res = repo.run("promote.sh", "prod")

    assert res.returncode != 0
    assert "staging version file not found" in res.stderr
