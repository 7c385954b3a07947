#!/usr/bin/env bash
# Creates the development key-encryption key and bootstrap admin password under .data/ (mode 0600)
# once, and prints their paths. Production deployments supply their own (README, Operations).
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$DATA"
umask 077
[ -s "$DATA/kek" ] || head -c 32 /dev/urandom | base64 > "$DATA/kek"
