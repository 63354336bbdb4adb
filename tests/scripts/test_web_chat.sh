#!/usr/bin/env bash
# The chat page in a real browser: Debian's Chromium driven by playwright-core
# (tests/node/web_chat_browser.mjs) against a daemon that requires an API key, serving the
# smol preset on one thread so that a long reply is still streaming when Stop is pressed.
# Also the page's HTTP side with curl: the three assets, their types and security headers,
# HEAD, and a 404 for other paths. The screenshot lands in the build directory
# (web-chat.png).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
build=${HEARTH_BUILD_DIR:?HEARTH_BUILD_DIR must point at the build directory}
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ] || [ ! -d "$here/../node/node_modules/playwright-core" ]; then
    echo "# Chromium or playwright-core missing: skipped"
    exit 77
fi

"$HEARTH_BIN" make-model --preset smol --type q4_0 --seed 5 --out "$WORK/smol.gguf" 2>/dev/null
key=$("$HEARTH_BIN" keys create --name browser --db "$WORK/usage.db")
start_daemon --model "$WORK/smol.gguf" --model-id smol --db "$WORK/usage.db" \
    --data-dir "$WORK/data" --threads 1 --parallel 2 --ctx 4096

http GET /
check "GET /: 200 text/html without a key" sh -c "test $STATUS = 200 && grep -qi '^content-type: text/html; charset=utf-8' '$WORK/headers'"
check "GET /: a CSP allowing this origin only, nosniff" sh -c \
    "grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'\" '$WORK/headers' && grep -qi '^x-content-type-options: nosniff' '$WORK/headers'"
check "GET /: the page names its script and style, no inline script" sh -c \
    "grep -q '<script src=\"/chat.js\" defer></script>' '$WORK/body' && test \$(grep -c '<script' '$WORK/body') = 1"
http GET /chat.js
check "GET /chat.js: javascript, the page's code" sh -c "test $STATUS = 200 && grep -qi '^content-type: text/javascript' '$WORK/headers' && grep -q 'hearthMarkdown' '$WORK/body'"
http GET /chat.css
check "GET /chat.css: css" sh -c "test $STATUS = 200 && grep -qi '^content-type: text/css' '$WORK/headers'"
check "HEAD /: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/")" = 200
http GET /index.html
check "other paths stay 404" test "$STATUS" = 404

if HEARTH_URL="$BASE" HEARTH_MODEL=smol HEARTH_KEY="$key" CHROMIUM="$chromium" \
    HEARTH_SCREENSHOT="$build/web-chat.png" node --test "$here/../node/web_chat_browser.mjs"; then
    ok "the chat page in Chromium (web_chat_browser.mjs)"
else
    not_ok "the chat page in Chromium (web_chat_browser.mjs)"
fi
check "a screenshot was saved" test -s "$build/web-chat.png"
rows=$(sqlite3 "$WORK/usage.db" "select count(*) from usage where endpoint='/v1/chat/completions' and prompt_text is null")
check "the server kept no prompt text of the page's requests ($rows rows)" test "$rows" -ge 2
stop_daemon
check "exit 0" test "$DAEMON_STATUS" = 0
finish
