"""scripts/gitops/bump-image.sh against a throwaway repository."""

from __future__ import annotations

import subprocess

import pytest

from tests.gitops.helpers import ENVS, IMAGE_REPO, Repo, version_path

DIGEST = "sha256:" + "ab" * 32
DEV = version_path("dev")


def test_bump_writes_digest_into_dev_only_and_dev_still_builds(repo: Repo, kustomize: str):
    before = {e: repo.build(kustomize, e) for e in ENVS}
    original = repo.read(DEV)

    res = repo.run("bump-image.sh", DIGEST)

    assert res.returncode == 0, res.stderr
    assert repo.status() == [f" M {DEV}"]
    text = repo.read(DEV)
    # form kept: comment, kind, indentation and key order unchanged
    assert text.splitlines()[:4] == original.splitlines()[:4]
    assert "kind: Component" in text
    assert f"    digest: {DIGEST}\n" in text
    assert "sha256:" + "1" * 64 not in text
    assert len(text.splitlines()) == len(original.splitlines())
    dev = repo.build(kustomize, "dev")
    assert f"image: {IMAGE_REPO}@{DIGEST}" in dev
    assert dev != before["dev"]
    for e in ("staging", "prod"):
        assert repo.build(kustomize, e) == before[e]


def test_bump_replaces_a_tag_and_sets_the_repository(repo: Repo, kustomize: str):
    # dev pinned by tag (as prod is in the fixture): the tag line becomes digest
    repo.write(DEV, repo.read(version_path("prod")))
    repo.commit_all("dev on a tag")
    image = f"ghcr.io/other-owner/gold-platform@{DIGEST}"

    res = repo.run("bump-image.sh", image)

    assert res.returncode == 0, res.stderr
    text = repo.read(DEV)
    assert "newTag" not in text
    assert "    newName: ghcr.io/other-owner/gold-platform\n" in text
    assert f"    digest: {DIGEST}\n" in text
    assert f"image: {image}" in repo.build(kustomize, "dev")


def test_bump_is_idempotent(repo: Repo):
    assert repo.run("bump-image.sh", "--commit", DIGEST).returncode == 0
    head = repo.git("rev-parse", "HEAD")

    res = repo.run("bump-image.sh", "--commit", DIGEST)

    assert res.returncode == 0, res.stderr
    assert "nothing to do" in res.stderr
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.status() == []


def test_bump_commit_touches_only_the_dev_file_and_skips_ci(repo: Repo):
    repo.write("unrelated.txt", "staged but not ours\n")
    repo.git("add", "unrelated.txt")

    res = repo.run("bump-image.sh", "--commit", "--source", "abc1234", DIGEST)

    assert res.returncode == 0, res.stderr
    assert repo.git("show", "--name-only", "--format=", "HEAD").splitlines() == [DEV]
    message = repo.git("log", "-1", "--format=%B")
    assert "[skip ci]" in message.splitlines()[0]
    assert "abc1234" in message
    assert repo.status() == ["A  unrelated.txt"]


def test_bump_push_rebases_when_main_moved(repo: Repo, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(remote)], check=True, env=repo.env
    )
    repo.git("remote", "add", "origin", str(remote))
    repo.git("fetch", "-q", "origin")
    # someone else pushes to main after our checkout
    other = Repo(tmp_path / "other", repo.env)
    subprocess.run(["git", "clone", "-q", str(remote), str(other.path)], check=True, env=repo.env)
    other.write("docs.md", "moved on\n")
    other.commit_all("docs change")
    other.git("push", "-q", "origin", "main")

    res = repo.run("bump-image.sh", "--push", DIGEST)

    assert res.returncode == 0, res.stderr
    log = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "--format=%s", "main"],
        text=True,
        capture_output=True,
        check=True,
        env=repo.env,
    ).stdout.splitlines()
    assert log[0].startswith("gitops(dev): deploy gold-platform@")
    assert log[1] == "docs change"
    shown = subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"main:{DEV}"],
        text=True,
        capture_output=True,
        check=True,
        env=repo.env,
    ).stdout
    assert f"digest: {DIGEST}" in shown


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing IMAGE"),
        (["latest"], "invalid digest"),
        (["sha256:1234"], "invalid digest"),
        (["sha256:" + "AB" * 32], "invalid digest"),
        ([f"GHCR.io/Owner/App@{DIGEST}"], "invalid image repository"),
        ([f"ghcr.io/o/app:1.0@{DIGEST}"], "invalid image repository"),
        ([DIGEST, DIGEST], "unexpected argument"),
        (["--frobnicate", DIGEST], "unknown option"),
        (["--source"], "--source needs a value"),
    ],
)
def test_bump_rejects_bad_input(repo: Repo, args, message):
    res = repo.run("bump-image.sh", *args)

    assert res.returncode != 0
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert repo.status() == []


def test_bump_refuses_a_dirty_dev_file(repo: Repo):
    repo.write(DEV, repo.read(DEV) + "# local edit\n")

    res = repo.run("bump-image.sh", DIGEST)

    assert res.returncode != 0
    assert "uncommitted changes" in res.stderr
    assert repo.read(DEV).endswith("# local edit\n")


def test_bump_fails_clearly_without_the_dev_overlay(repo: Repo):
    repo.git("rm", "-q", "-r", "kustomize/overlays/dev")
    repo.commit_all("no dev")

    res = repo.run("bump-image.sh", DIGEST)

    assert res.returncode != 0
    assert "dev version file not found" in res.stderr


def test_bump_fails_when_dev_no_longer_builds(repo: Repo):
    repo.write(
        "kustomize/overlays/dev/kustomization.yaml",
        repo.read("kustomize/overlays/dev/kustomization.yaml").replace("../../base", "../../nope"),
    )
    repo.commit_all("broken dev overlay")

    res = repo.run("bump-image.sh", DIGEST)

    assert res.returncode != 0
    assert "dev overlay no longer builds" in res.stderr


def test_missing_kustomize_names_make_tools(repo: Repo):
    res = repo.run("bump-image.sh", DIGEST, extra_env={"KUSTOMIZE": "/nonexistent/kustomize"})

    assert res.returncode != 0
    assert "make tools" in res.stderr


def test_bump_name_pins_another_entry_and_leaves_the_service_alone(repo: Repo, kustomize: str):
    deployment = repo.read("kustomize/base/deployment.yaml")
    repo.write(
        "kustomize/base/deployment.yaml",
        deployment + "        - name: cache\n          image: docker.io/library/redis:6.2\n",
    )
    repo.write(DEV, repo.read(DEV) + "  - name: docker.io/library/redis\n    newTag: 6.2\n")
    repo.commit_all("dev: a cache container, by tag")
    service_before = repo.read(DEV).split("  - name: docker.io")[0]
    mirror = "ghcr.io/gold-platform/mirror/redis"

    res = repo.run("bump-image.sh", "--name", "docker.io/library/redis", f"{mirror}@{DIGEST}")

    assert res.returncode == 0, res.stderr
    text = repo.read(DEV)
    assert text.split("  - name: docker.io")[0] == service_before
    dev = repo.build(kustomize, "dev")
    assert f"image: {mirror}@{DIGEST}" in dev
    assert f"image: {IMAGE_REPO}@sha256:{'1' * 64}" in dev


def test_bump_refuses_name_given_twice(repo: Repo):
    res = repo.run("bump-image.sh", "--name", "a", "--name", "b", DIGEST)
    assert res.returncode == 2, res.stderr
    assert "--name given twice" in res.stderr
    assert repo.status() == []
