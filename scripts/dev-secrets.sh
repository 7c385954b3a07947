#!/usr/bin/env bash
# Creates the development key-encryption key, .data/kek (mode 0600), once. (scripts/run.sh makes
# the bootstrap admin's password.) Production deployments supply their own (README, Operations).
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$DATA"
umask 077
[ -s "$DATA/kek" ] || head -c 32 /dev/urandom | base64 > "$DATA/kek"
