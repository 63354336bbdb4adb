#!/usr/bin/env bash
# The shipped systemd unit: `systemd-analyze verify` passes (ExecStart pointed at this build's
# binary, since nothing is installed here), it is Type=notify with a watchdog, reload by
# SIGHUP and the hardening the operations guide promises, and systemd-analyze's offline
# security review rates it at most 2.0 ("OK"). `make install` (cmake --install into a DESTDIR)
# puts the binary, the unit and the default configuration in the usual places. No systemd
# runs here: the notification protocol itself is tested in test_serve_lifecycle.py.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
build=${HEARTH_BUILD_DIR:?HEARTH_BUILD_DIR must point at the build directory}
command -v systemd-analyze >/dev/null || { echo "# systemd-analyze missing: skipped"; exit 77; }

unit=systemd/hearth.service
mkdir -p "$WORK/unit"
bin=$(realpath "$HEARTH_BIN")
sed "s|^ExecStart=/usr/local/bin/hearth |ExecStart=$bin |" "$unit" >"$WORK/unit/hearth.service"
check "ExecStart rewritten for the check" grep -q "^ExecStart=$bin serve" "$WORK/unit/hearth.service"
if systemd-analyze verify "$WORK/unit/hearth.service" 2>"$WORK/verify"; then
    ok "systemd-analyze verify passes"
else
    not_ok "systemd-analyze verify: $(cat "$WORK/verify")"
fi
for line in Type=notify WatchdogSec=30 'ExecReload=/bin/kill -HUP $MAINPID' DynamicUser=yes \
    StateDirectory=hearth ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
    PrivateTmp=yes MemoryDenyWriteExecute=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    SystemCallFilter=@system-service TimeoutStopSec=45; do
    check "unit has $line" grep -qxF "$line" "$unit"
done
score=$(systemd-analyze security --offline=true "$WORK/unit/hearth.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for hearth.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: $score"
check "security exposure at most 2.0 (got ${score:-none})" \
    /usr/bin/python3 -c "import sys; sys.exit(0 if '$score' and float('$score') <= 2.0 else 1)"

DESTDIR="$WORK/root" cmake --install "$build" --prefix /usr/local >"$WORK/install.log"
check "make install: the binary in /usr/local/bin" test -x "$WORK/root/usr/local/bin/hearth"
check "make install: the unit in /usr/local/lib/systemd/system" \
    cmp -s "$unit" "$WORK/root/usr/local/lib/systemd/system/hearth.service"
check "make install: the default configuration in /etc/hearth" \
    cmp -s config/hearth.json "$WORK/root/etc/hearth/hearth.json"
finish
