#!/usr/bin/env bash
# Plays the release and mirror workflows for the local cluster: pushes the
# images staging and prod run to the cluster's registry and signs them by
# digest with cosign. The e2e scenarios read what it records:
#
#   $CLUSTER_STATE/signing/release.pub   the public key of that signature
#   $CLUSTER_STATE/signing/images.env    NAME=REGISTRY/REPO@sha256:<digest>
#       APP, NEXT              this release and the next (e2e-1, e2e-2)
#       POSTGRES, REDIS        the mirrored third-party images
#                              (all four signed with release.key)
#       OTHER_KEY              this release, signed with another key only
#       UNSIGNED               an image without any signature
#
# The workflows sign keyless (GitHub's OIDC identity, Fulcio and Rekor);
# neither service can be reached here, so a key pair made for this cluster
# stands in, and nothing is uploaded to a transparency log.
#
# Usage: sign-images.sh   (called by up.sh with ARGOCD=1, after addons.sh)
# The image names come from versions.env, through lib.sh.
# shellcheck disable=SC2153
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# podman's storage, where images.sh built the images.
# shellcheck source=scripts/image/env.sh disable=SC1091
. "$HERE/../image/env.sh"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/cluster/cluster.env disable=SC1091
. "$HERE/cluster.env"

COSIGN="$(component_dir cosign "$COSIGN_VERSION")/bin/cosign"
SIGNING="$CLUSTER_STATE/signing"
FORWARDED="127.0.0.1:$REGISTRY_FORWARD_PORT"
IN_CLUSTER="$REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT"
mkdir -p "$SIGNING"
export COSIGN_PASSWORD="" # the stand-in keys are not encrypted

# The host reaches the registry through a port-forward on loopback only.
start registry-forward kubectl -n gold-platform-registry port-forward --address 127.0.0.1 \
    svc/registry "$REGISTRY_FORWARD_PORT:$REGISTRY_SERVICE_PORT"
wait_for "registry port-forward on $FORWARDED" 60 curl -fsS "http://$FORWARDED/v2/"

# push LOCAL_IMAGE REPO: pushes to REPO; prints its digest.
push() {
    local digest_file="$SIGNING/digest"
    podman push --quiet --tls-verify=false --digestfile "$digest_file" "$1" "docker://$FORWARDED/$2:release" >&2 ||
        die "pushing $1 to the cluster's registry failed"
    cat "$digest_file"
}

# sign KEY REPO DIGEST
sign() {
    "$COSIGN" sign --yes --key "$SIGNING/$1.key" --tlog-upload=false --allow-http-registry \
        "$FORWARDED/$2@$3" > "$SIGNING/cosign.log" 2>&1 ||
        { cat "$SIGNING/cosign.log" >&2; die "cosign could not sign $2@$3"; }
}

start_time=$SECONDS
for key in release other; do
    [ -f "$SIGNING/$key.key" ] ||
        "$COSIGN" generate-key-pair --output-key-prefix "$SIGNING/$key" > /dev/null 2>&1 ||
        die "cosign could not make the $key key pair"
done

: > "$SIGNING/images.env"
# NAME LOCAL_IMAGE REPO KEY ("-": left unsigned)
while read -r name image repo key; do
    digest="$(push "$image" "$repo")"
    [ "$key" = - ] || sign "$key" "$repo" "$digest"
    echo "$name=$IN_CLUSTER/$repo@$digest" >> "$SIGNING/images.env"
done << EOF
APP $APP_IMAGE_CURRENT gold-platform/gold-platform release
NEXT $APP_IMAGE_NEXT gold-platform/gold-platform release
POSTGRES $POSTGRES_IMAGE gold-platform/mirror/postgres release
REDIS $REDIS_IMAGE gold-platform/mirror/redis release
OTHER_KEY $APP_IMAGE_CURRENT gold-platform/other-signer other
UNSIGNED $PAUSE_IMAGE gold-platform/unsigned -
EOF
log "6 images pushed to the cluster's registry, 5 signed with cosign $COSIGN_VERSION, in $((SECONDS - start_time)) s"
