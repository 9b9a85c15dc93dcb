#!/usr/bin/env bash
# Install the system programs the tests drive for real: OpenSSH's sshd (the sync tests start
# one per simulated node on loopback) and Chromium (the UI page screenshot test).
#
# Idempotent: does nothing when both are present. Needs root and apt-get (Debian/Ubuntu);
# elsewhere it says what to install and fails, rather than letting those tests fail later
# with a less obvious error.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system_deps: please install: ${missing[*]} (needs root and apt-get here)" >&2
    exit 1
fi
echo "system_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${missing[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q "${missing[@]}" >/dev/null
fi
