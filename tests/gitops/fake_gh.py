#!/usr/bin/env python3
"""A stand-in for the GitHub CLI used by the PR-side GitOps tests.

GitHub cannot be reached from the test machines, so this implements the few
`gh` calls promotion-pr.sh and pr-comment.sh make against a JSON state file
($FAKE_GH_STATE): pull requests and issue comments. `--jq` filters run
through the real jq, so the scripts' filters are exercised as written.
Every call is appended to the state's "calls" list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def load() -> dict:
    with open(os.environ["FAKE_GH_STATE"]) as f:
        return json.load(f)


def save(state: dict) -> None:
    with open(os.environ["FAKE_GH_STATE"], "w") as f:
        json.dump(state, f, indent=1)


def opts(args: list[str]) -> tuple[dict[str, str], list[str]]:
    flags = {"--paginate", "--delete-branch"}
    out: dict[str, str] = {}
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in flags:
            out[a] = "1"
            i += 1
        elif a.startswith("--"):
            out[a] = args[i + 1]
            i += 2
        else:
            pos.append(a)
            i += 1
    return out, pos


def emit(value, jq: str | None) -> None:
    text = json.dumps(value)
    if jq:
        res = subprocess.run(["jq", "-r", jq], input=text, text=True, capture_output=True)
        if res.returncode:
            sys.stderr.write(res.stderr)
            sys.exit(1)
        sys.stdout.write(res.stdout)
    else:
        sys.stdout.write(text + "\n")


def main(argv: list[str]) -> int:
    state = load()
    state["calls"].append(argv)
    o, pos = opts(argv[1:] if argv[0] == "api" else argv[2:])
    prs = state["prs"]
    try:
        if argv[:2] == ["pr", "list"]:
            rows = [p for p in prs if p["state"] == o.get("--state", "open")]
            rows = [p for p in rows if p["baseRefName"] == o.get("--base", p["baseRefName"])]
            if "--head" in o:
                rows = [p for p in rows if p["headRefName"] == o["--head"]]
            emit(rows, o.get("--jq"))
        elif argv[:2] == ["pr", "create"]:
            n = max([p["number"] for p in prs], default=0) + 1
            with open(o["--body-file"]) as f:
                body = f.read()
            prs.append(
                {
                    "number": n,
                    "state": "open",
                    "baseRefName": o["--base"],
                    "headRefName": o["--head"],
                    "title": o["--title"],
                    "body": body,
                }
            )
            print(f"https://github.example/o/r/pull/{n}")
        elif argv[:2] == ["pr", "edit"]:
            pr = next(p for p in prs if p["number"] == int(pos[0]))
            with open(o["--body-file"]) as f:
                pr["body"] = f.read()
            pr["title"] = o["--title"]
        elif argv[:2] == ["pr", "close"]:
            pr = next(p for p in prs if p["number"] == int(pos[0]))
            pr["state"] = "closed"
            pr["close_comment"] = o.get("--comment", "")
        elif argv[0] == "api":
            path = pos[0]
            method = o.get("--method", "GET")
            parts = path.split("/")[3:]  # after repos/OWNER/NAME
            if method == "GET" and parts[0] == "pulls":
                pr = next((p for p in prs if p["number"] == int(parts[1])), None)
                if pr is None:
                    sys.stderr.write("HTTP 404\n")
                    return 1
                emit({"state": pr["state"], "head": {"sha": pr.get("head_sha", "")}}, o.get("--jq"))
            elif method == "GET" and parts[0] == "commits":
                rows = [
                    {"number": p["number"], "state": p["state"]}
                    for p in prs
                    if p.get("head_sha") == parts[1]
                ]
                emit(rows, o.get("--jq"))
            elif method == "GET" and parts[0] == "issues":
                rows = [c for c in state["comments"] if c["pr"] == int(parts[1])]
                emit(rows, o.get("--jq"))
            elif method in ("POST", "PATCH"):
                with open(o["--input"]) as f:
                    body = json.load(f)["body"]
                if method == "POST":
                    cid = 1000 + len(state["comments"])
                    state["comments"].append(
                        {
                            "id": cid,
                            "pr": int(parts[1]),
                            "body": body,
                            "user": {"login": "github-actions[bot]"},
                        }
                    )
                else:
                    c = next(c for c in state["comments"] if c["id"] == int(parts[2]))
                    c["body"] = body
            else:
                sys.stderr.write(f"fake gh: unsupported api call {argv}\n")
                return 1
        else:
            sys.stderr.write(f"fake gh: unsupported call {argv}\n")
            return 1
    finally:
        save(state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
