#!/usr/bin/env bash
# HTTPS: a certificate authority and a server certificate for 127.0.0.1/localhost made here
# with openssl; serve --tls-cert/--tls-key answers curl (verifying against that CA) and the
# openai SDK (trusting it through NODE_EXTRA_CA_CERTS), streaming included; plain HTTP and an
# unverified client get no API answer; a certificate without its key, a key of another
# certificate, a file that is not PEM and a missing file each stop the start with exit 2 and
# one line naming the flag and file.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
command -v openssl >/dev/null || { echo "# openssl missing: skipped"; exit 77; }

pki=$WORK/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=Hearth test CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/san.ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 30 -extfile "$pki/san.ext" -out "$pki/server.pem" 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$pki/other.key" 2>/dev/null
echo "not a certificate" >"$pki/junk.pem"

"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 7 --out "$WORK/tiny.gguf" 2>/dev/null
common=(--model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/usage.db" --data-dir "$WORK/data"
    --threads 1 --port 0)

# refused_start WHAT PATTERN ARGS...: serve exits 2 with one stderr line matching PATTERN.
refused_start() {
    local what=$1 pattern=$2
    shift 2
    set +e
    "$HEARTH_BIN" serve "${common[@]}" "$@" 2>"$WORK/err" >/dev/null
    local rc=$?
    set -e
    if [ "$rc" = 2 ] && grep -qE "$pattern" "$WORK/err" && [ "$(wc -l <"$WORK/err")" -ge 1 ]; then
        ok "$what"
    else
        not_ok "$what (exit $rc): $(cat "$WORK/err")"
    fi
}
refused_start "--tls-cert without --tls-key" '^hearth: --tls-cert: given without --tls-key' \
    --tls-cert "$pki/server.pem"
refused_start "a key that is not the certificate's" \
    "^hearth: --tls-key $pki/other.key: does not match the certificate in $pki/server.pem" \
    --tls-cert "$pki/server.pem" --tls-key "$pki/other.key"
refused_start "a certificate file that is not PEM" "^hearth: --tls-cert $pki/junk.pem: not a PEM" \
    --tls-cert "$pki/junk.pem" --tls-key "$pki/server.key"
refused_start "a missing key file" "^hearth: --tls-key $pki/none.key: cannot read: No such file" \
    --tls-cert "$pki/server.pem" --tls-key "$pki/none.key"

start_daemon "${common[@]:0:10}" --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
check "log: listening on https://" grep -qE 'listening on https://127\.0\.0\.1:[0-9]+' "$LOG"
check "log: the certificate's expiry" grep -qE 'certificate valid until [0-9]{4}-' "$LOG"
check "BASE is https" test "${BASE%%://*}" = https

out=$(curl -sS --cacert "$pki/ca.pem" "$BASE/health")
check "curl verifying the CA: /health ok over TLS" test "$out" = '{"status":"ok"}'
check "curl by name (localhost) verifies too" \
    curl -sSf --cacert "$pki/ca.pem" "https://localhost:$PORT/health" -o /dev/null
check "curl without the CA refuses the certificate" \
    bash -c "! curl -sS '$BASE/health' -o /dev/null 2>/dev/null"
check "plain HTTP to the TLS port gets no API answer" \
    bash -c "! curl -sS --max-time 5 'http://127.0.0.1:$PORT/health' 2>/dev/null | grep -q ok"
body='{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"temperature":0,"stream":true}'
curl -sS --cacert "$pki/ca.pem" -H 'Content-Type: application/json' -d "$body" \
    "$BASE/v1/chat/completions" >"$WORK/sse"
check "streamed chat over TLS ends with [DONE]" grep -qx 'data: \[DONE\]' <(tr -d '\r' <"$WORK/sse")
check "streamed chat over TLS has content chunks" \
    test "$(grep -c '"object":"chat.completion.chunk"' "$WORK/sse")" -ge 2

if [ -d "$here/../node/node_modules/openai" ]; then
    if NODE_EXTRA_CA_CERTS="$pki/ca.pem" HEARTH_URL="$BASE/v1" HEARTH_MODEL=tiny \
        node --test "$here/../node/tls_client.mjs"; then
        ok "openai SDK over HTTPS (the CA trusted through NODE_EXTRA_CA_CERTS)"
    else
        not_ok "openai SDK over HTTPS"
    fi
else
    echo "# openai SDK not installed (tests/node/node_modules): SDK part skipped"
fi
stop_daemon
check "TLS daemon stops with exit 0" test "$DAEMON_STATUS" = 0
finish
