#!/usr/bin/env bash
# No container engine runs here, and Debian has no hadolint, so the Docker files are checked
# by this script: the Dockerfile is multi-stage on Debian 12, runs as a non-root user, keeps
# models and the database in volumes, has a HEALTHCHECK on /health, and every package it
# installs exists in Debian 12's archive; compose runs two replicas behind nginx with the
# shipped nginx.conf. Then the image's steps run directly: the build stage's cmake commands
# (their flags must be ones this CMakeLists knows), a key made as the image's README says,
# and the CMD's `serve --host 0.0.0.0` with HEARTH_DATA_DIR as in the image, probed by the
# HEALTHCHECK's own command.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
df=docker/Dockerfile
compose=docker/compose.yaml

check "two stages: debian:12 build, debian:12-slim runtime" \
    test "$(grep -cE '^FROM debian:12(-slim)?( AS build)?$' "$df")" = 2
check "a non-root user" grep -qE '^USER hearth$' "$df"
check "models and the database are volumes" grep -qF 'VOLUME ["/var/lib/hearth", "/models"]' "$df"
check "HEALTHCHECK on /health" grep -qE 'CMD curl -fsS http://127.0.0.1:8080/health' "$df"
check "STOPSIGNAL SIGTERM (the drain)" grep -qx 'STOPSIGNAL SIGTERM' "$df"
pkgs=$(sed -n '/apt-get install/,/rm -rf/p' "$df" | tr ' \\' '\n\n' |
    grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update|curl)$' | sort -u)
missing=""
for p in $pkgs curl; do
    apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
done
check "every package the Dockerfile installs exists in the archive ($(wc -w <<<"$pkgs") checked)" \
    test -z "$missing"
[ -z "$missing" ] || echo "  missing:$missing"
check "compose: two hearth replicas and nginx with the shipped nginx.conf" sh -c \
    "grep -q '^  hearth-1:' $compose && grep -q '^  hearth-2:' $compose && grep -q '^  nginx:' $compose && grep -q './nginx.conf:/etc/nginx/nginx.conf:ro' $compose"
check "compose: nginx waits for healthy replicas" \
    test "$(grep -c 'condition: service_healthy' "$compose")" = 2
check "nginx.conf names both compose services" sh -c \
    "grep -q 'server hearth-1:8080' docker/nginx.conf && grep -q 'server hearth-2:8080' docker/nginx.conf"

# the build stage's configure step, with this tree (no full build: the suite built it already)
cfg=$(sed -n 's/^RUN \(cmake -S \. -B build [^&]*\).*/\1/p' "$df")
check "the build stage configures with cmake" test -n "$cfg"
if (cd "$WORK" && ${cfg/-S ./-S $OLDPWD} >"$WORK/cmake.log" 2>&1); then
    ok "the build stage's cmake flags configure this tree"
else
    not_ok "the build stage's cmake configure: $(tail -3 "$WORK/cmake.log")"
fi
check "...without unknown variables" bash -c "! grep -q 'Manually-specified variables were not used' '$WORK/cmake.log'"

# the image's first run: a key, then CMD on 0.0.0.0 with the image's data directory
export HEARTH_DATA_DIR="$WORK/var-lib-hearth"
"$HEARTH_BIN" make-model --preset tiny --type f32 --out "$WORK/m.gguf" 2>/dev/null
set +e
"$HEARTH_BIN" serve --host 0.0.0.0 --port 0 --model "$WORK/m.gguf" 2>"$WORK/err"; st=$?
set -e
check "CMD without a key refuses 0.0.0.0 (exit 2), as the image's README warns" test "$st" = 2
"$HEARTH_BIN" keys create --name admin --admin --db "$HEARTH_DATA_DIR/hearth.db" >/dev/null
LOG="$WORK/daemon.log"
"$HEARTH_BIN" serve --host 0.0.0.0 --port 0 --model "$WORK/m.gguf" 2>"$LOG" &
DAEMON_PID=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$LOG" && break; sleep 0.1; done
PORT=$(grep -oE 'listening on http://0\.0\.0\.0:[0-9]+' "$LOG" | sed 's/.*://')
health=$(sed -n 's/.*CMD \(curl -fsS http:\/\/127.0.0.1:\)8080\(\/health\).*/\1'"$PORT"'\2/p' "$df")
check "the HEALTHCHECK command passes against the running CMD" sh -c "$health >/dev/null"
stop_daemon
check "and it stops with exit 0" test "$DAEMON_STATUS" = 0
finish
