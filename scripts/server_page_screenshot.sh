#!/usr/bin/env bash
# Screenshot of the page at / while two requests run on the default model: one compressed by a 25% memory target
# (sent with curl), one asked from the page with snapkv at 0.75. Needs Debian's chromium; run by hand.
# Usage: scripts/server_page_screenshot.sh [OUT.png]
set -euo pipefail
out=${1:-docs/plots/server-page.png}
binary=.build/release/tokenpress
port=8097
"$binary" serve --port "$port" 2>/dev/null &
server=$!
trap 'kill $server' EXIT
sleep 3
document=$(python3 -c "print(' '.join(f'Line {i}: the river carries the morning light past the old bridge.' for i in range(180)))")
curl -s "http://127.0.0.1:$port/v1/chat/completions" -o /dev/null -d "{\"messages\": [{\"role\": \"system\", \
\"content\": \"$document\"}, {\"role\": \"user\", \"content\": \"Summarise the text.\"}], \"max_tokens\": 600, \
\"kv_compression\": {\"kv_memory\": \"25%\"}}" &
until curl -s "http://127.0.0.1:$port/slots" | grep -q decoding; do sleep 0.5; done
system=$(python3 -c "import urllib.parse; print(urllib.parse.quote(' '.join(['The library opens at nine and closes at five.'] * 40)))")
chromium --headless --no-sandbox --disable-gpu --user-data-dir="$(mktemp -d)" --window-size=1400,900 \
    --virtual-time-budget=6000 --screenshot="$out" \
    "http://127.0.0.1:$port/?mode=press&press=snapkv&ratio=0.75&max=40&system=$system&ask=When%20does%20the%20library%20open%3F" \
    2>/dev/null
echo "wrote $out"
