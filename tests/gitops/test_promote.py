"""scripts/gitops/promote.sh against a throwaway repository."""

from __future__ import annotations

import pytest

from tests.gitops.helpers import IMAGE_REPO, PROD_APP, Repo, version_path

STAGING_IMAGE = f"image: {IMAGE_REPO}@sha256:{'2' * 64}"
BASE_CHANGE = ("kustomize/base/service.yaml", "      port: 80\n", "      port: 8080\n")


def change_base(repo: Repo, message: str = "base: the Service listens on 8080") -> str:
    path, old, new = BASE_CHANGE
    repo.write(path, repo.read(path).replace(old, new))
    return repo.commit_all(message)


def test_promote_copies_exactly_the_version_file(repo: Repo, kustomize: str):
    untouched = {e: repo.read(version_path(e)) for e in ("dev", "prod")}
    others = {e: repo.build(kustomize, e) for e in untouched}

    res = repo.run("promote.sh", "staging")

    assert res.returncode == 0, res.stderr
    assert repo.status() == [f" M {version_path('staging')}"]
    assert (repo.path / version_path("staging")).read_bytes() == (
        repo.path / version_path("dev")
    ).read_bytes()
    for e, text in untouched.items():
        assert repo.read(version_path(e)) == text
        assert repo.build(kustomize, e) == others[e]
    rendered = repo.build(kustomize, "staging")
    assert f"image: {IMAGE_REPO}@sha256:{'1' * 64}" in rendered
    # only the image moved: the environment's own settings stay
    assert "namespace: gold-staging" in rendered


def test_prod_is_pinned_to_the_commit_holding_the_promoted_overlay(repo: Repo, kustomize: str):
    before = repo.git("rev-parse", "HEAD")
    others = {e: repo.build(kustomize, e) for e in ("dev", "staging")}

    res = repo.run("promote.sh", "--commit", "prod")

    assert res.returncode == 0, res.stderr
    assert repo.status() == []
    version_commit, pin_commit = repo.git("rev-list", "--reverse", f"{before}..HEAD").split()
    assert repo.git("show", "--name-only", "--format=", version_commit).split() == [
        version_path("prod")
    ]
    assert repo.git("show", "--name-only", "--format=", pin_commit).split() == [PROD_APP]
    assert repo.prod_pin() == version_commit
    assert repo.git("log", "-1", "--format=%s").startswith("gitops(prod): deploy ")
    assert STAGING_IMAGE in repo.build(kustomize, "prod", at=repo.prod_pin())
    # only targetRevision moved in prod's Application
    diff = repo.git("diff", "-U0", f"{version_commit}..{pin_commit}", "--", PROD_APP)
    changed = [
        line[0] + line[1:].split(":")[0].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-targetRevision", "+targetRevision"]
    assert {e: repo.build(kustomize, e) for e in others} == others


def test_base_changes_reach_prod_only_when_promoted(repo: Repo, kustomize: str):
    assert repo.run("promote.sh", "--commit", "prod").returncode == 0
    promoted = repo.prod_pin()

    changed = change_base(repo)

    # main moved; prod still renders what it was promoted with
    assert "port: 8080" not in repo.build(kustomize, "prod", at=repo.prod_pin())
    assert repo.prod_pin() == promoted
    # the same image, new manifests: promotion pins HEAD, in one commit
    res = repo.run("promote.sh", "--commit", "prod")
    assert res.returncode == 0, res.stderr
    assert "its manifests changed since the pinned" in res.stderr
    assert repo.git("rev-list", "--count", f"{changed}..HEAD") == "1"
    assert repo.prod_pin() == changed
    assert "port: 8080" in repo.build(kustomize, "prod", at=repo.prod_pin())
    assert STAGING_IMAGE in repo.build(kustomize, "prod", at=repo.prod_pin())


def test_prod_has_nothing_to_promote_when_it_renders_the_same(repo: Repo):
    assert repo.run("promote.sh", "--commit", "prod").returncode == 0
    # a change prod does not render (dev's version) is not a reason to promote
    repo.write(version_path("dev"), repo.read(version_path("dev")).replace("1" * 64, "3" * 64))
    head = repo.commit_all("dev: a newer image")

    res = repo.run("promote.sh", "--commit", "prod")

    assert res.returncode == 0, res.stderr
    assert "nothing to promote" in res.stderr
    assert repo.git("rev-parse", "HEAD") == head


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
    running = repo.prod_pin()

    res = repo.run("promote.sh", "--commit", "prod", extra_env={"GITHUB_OUTPUT": str(out)})

    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert "changed=true" in lines
    assert "from=staging" in lines
    assert f"image={IMAGE_REPO}@sha256:{'2' * 64}" in lines
    assert f"pinned={repo.prod_pin()}" in lines
    assert f"previous_pin={running}" in lines


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing environment"),
        (["qa"], "unknown environment 'qa'"),
        (["dev"], "first environment"),
        (["staging", "prod"], "unexpected argument"),
        (["--force", "prod"], "unknown option"),
        (["prod"], "prod is promoted with --commit"),
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

    res = repo.run("promote.sh", "--commit", "prod")

    assert res.returncode != 0
    assert "staging version file not found" in res.stderr


def test_promote_refuses_a_file_with_an_image_by_tag(repo: Repo, kustomize: str):
    # dev names a second image (a third-party one) by tag only.
    dev = repo.read(version_path("dev")) + "  - name: docker.io/library/redis\n    newTag: 6.2\n"
    repo.write(version_path("dev"), dev)
    repo.commit_all("dev: redis by tag")
    staging = repo.read(version_path("staging"))

    res = repo.run("promote.sh", "staging")

    assert res.returncode != 0
    assert "docker.io/library/redis by tag" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert repo.read(version_path("staging")) == staging
    assert repo.status() == []
