#!/usr/bin/env bash
# Installs what hearth needs to build, run and test on Debian 12, as root (it calls sudo
# itself when another user runs it): the toolchain, the libraries it links (GnuTLS and
# libsystemd included), and the test tools (cmocka, clang for the second compiler and
# sanitizers, sqlite3, curl, openssl for test certificates, systemd-analyze, nginx for the
# scale-out test, Chromium for the chat page, numpy/jinja2/jsonschema oracles, Node.js for
# the openai SDK and playwright-core).
set -euo pipefail
# Root installs directly (a fresh Debian 12 often has no sudo); anyone else goes through sudo.
if [ "$(id -u)" != 0 ]; then
    exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config clang libclang-rt-14-dev \
    libuv1-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libjansson-dev libopenblas-dev \
    libsqlite3-dev libcmocka-dev openssl systemd nginx chromium \
    sqlite3 curl ca-certificates python3 python3-numpy python3-jinja2 python3-jsonschema \
    >/dev/null
# Node.js and npm for the SDK tests: keep a newer one if the machine already has it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "hearth: dependencies installed"
