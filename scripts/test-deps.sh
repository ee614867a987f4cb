#!/usr/bin/env bash
# Install the Debian packages that the test suite's mail network (tests/mailnet) runs:
# Postfix, Dovecot, dnsmasq, nftables, plus redis-server, swaks, iproute2 and openssl.
# Idempotent: when everything is installed it only asks dpkg and exits.
# Needs root (as the tests themselves do). Debian 12.
set -euo pipefail

PACKAGES=(
    dovecot-imapd dovecot-pop3d postfix dnsmasq-base nftables redis-server swaks iproute2 openssl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "test-deps: all Debian packages present"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "test-deps: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi

echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix would otherwise ask how to configure itself; the tests bring their own config.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
echo "test-deps: done"
