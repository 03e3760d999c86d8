"""Rewrites the shipped ClusterImagePolicy for the local cluster: the same
policy (name, mode, labels), trusting the cluster's registry and the key
sign-images.sh signed with instead of the project's registry and its
workflows' keyless identity (argocd.sh commits the result to the git server).

Usage: local_signature_policy.py POLICY_FILE IMAGE_GLOB PUBLIC_KEY_FILE
"""

import sys
from pathlib import Path

import yaml


def main(policy_file: str, glob: str, key_file: str) -> None:
    path = Path(policy_file)
    policy = yaml.safe_load(path.read_text())
    policy["spec"]["images"] = [{"glob": glob}]
    policy["spec"]["authorities"] = [
        {"name": "local-cluster-signer", "key": {"data": Path(key_file).read_text()}}
    ]
    path.write_text(yaml.safe_dump(policy, sort_keys=False))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*sys.argv[1:])
