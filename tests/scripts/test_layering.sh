#!/usr/bin/env bash
# The dependency direction daemon -> api -> engine: the engine includes no HTTP, JSON, event
# loop or database header, and api/ opens no socket or database. A violation fails the suite.
cd "$(dirname "$0")/../.."
fail=0
bad=$(grep -rnE '#include *[<"](uv|microhttpd|jansson|sqlite3)\.h[>"]' engine/ || true)
if [ -n "$bad" ]; then echo "engine/ includes a forbidden header:"; echo "$bad"; fail=1; fi
bad=$(grep -rnE '#include *[<"](uv|microhttpd|sqlite3|sys/socket)\.h[>"]|#include *[<"]daemon/' api/ || true)
if [ -n "$bad" ]; then echo "api/ includes a forbidden header:"; echo "$bad"; fail=1; fi
bad=$(grep -rnE '\b(sprintf|strcpy|strcat|strtok|gets|atoi|atof)\s*\(' engine/ api/ daemon/ || true)
if [ -n "$bad" ]; then echo "banned function used:"; echo "$bad"; fail=1; fi
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
