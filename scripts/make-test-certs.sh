#!/usr/bin/env bash
# Makes a self-signed certificate and key for tests: DIR/public.crt and DIR/private.key (PEM), valid for
# localhost and 127.0.0.1, 2 days. Usage: scripts/make-test-certs.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/private.key" -out "$dir/public.crt" 2>/dev/null
chmod 600 "$dir/private.key"
echo "$dir/public.crt"
echo "$dir/private.key"
