#!/usr/bin/env bash
# The local cluster's certificates (openssl): one CA, the API server's
# serving certificate, the kubelet's serving certificate, a client
# certificate per component, and the service-account key pair.
# Usage: pki.sh DIR
set -euo pipefail
DIR="${1:?usage: pki.sh DIR}"
mkdir -p "$DIR"
cd "$DIR"
umask 077
DAYS=30

openssl genrsa -out ca.key 2048 2> /dev/null
openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" -subj "/CN=gold-platform-local-ca" -out ca.crt

# cert NAME SUBJECT [SAN] [USAGE]: a key and a certificate signed by the CA.
cert() {
    local name="$1" subject="$2" san="${3:-}" usage="${4:-clientAuth}"
    openssl genrsa -out "$name.key" 2048 2> /dev/null
    openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [ -z "$san" ] || echo "subjectAltName=$san"
    } > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days "$DAYS" -extfile "$name.ext" -out "$name.crt" 2> /dev/null
    rm -f "$name.csr" "$name.ext"
}

cert kube-apiserver "/CN=kube-apiserver" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1,IP:10.244.0.1" serverAuth
cert kubelet-serving "/O=system:nodes/CN=system:node:localhost" "DNS:localhost,IP:127.0.0.1,IP:10.244.0.1" serverAuth
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=admin"
cert kube-controller-manager "/CN=system:kube-controller-manager"
cert kube-scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:localhost"
cert kube-proxy "/CN=system:kube-proxy"
cert coredns "/CN=coredns"
cert traefik "/CN=traefik"
cert cert-manager "/CN=cert-manager"

openssl genrsa -out sa.key 2048 2> /dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2> /dev/null
