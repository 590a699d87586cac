#!/usr/bin/env bash
# Rehearse a leap second on this machine, as docs/rehearsal.md describes:
# four leapsmear servers on loopback ports, each serving a rehearsed leap
# with its own policy, and 'leapsmear watch' polling them through it.
#
#   127.0.0.1:PORT    step               inserts a second (+1)
#   127.0.0.1:PORT+1  linear:-30s:1m     inserts a second: noon-to-noon shortened to a minute
#   127.0.0.1:PORT+2  quadratic:0s:1m    inserts a second: quadratic-17h shortened to a minute
#   127.0.0.1:PORT+3  cosine:-30s:1m     deletes a second (-1)
#
# The leap is LEAD after the start (default 40s); the watch lasts until a
# minute and ten seconds after it (about two minutes in all), polling every
# 250 ms: about 450 requests per server. Needs no root and never touches the
# clock. Writes rehearsal.svg, rehearsal.csv and rehearsal.txt (the summary)
# into OUTDIR.
#
# Usage: rehearsal/rehearse.sh [OUTDIR]          (default: ./rehearsal-out)
# Environment: PORT (default 11231), LEAD (default 40, seconds),
#              LEAPSMEAR (a built binary; default: go build ./cmd/leapsmear)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-rehearsal-out}
port=${PORT:-11231}
lead=${LEAD:-40}
mkdir -p "$out"

bin=${LEAPSMEAR:-}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/leapsmear
  echo "building $bin"
  go build -o "$bin" ./cmd/leapsmear
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# One instant for every server, on a whole second: each server would read
# "now+40s" at its own start.
leap=$(date -u -d "@$(( $(date +%s) + lead ))" +%Y-%m-%dT%H:%M:%SZ)
echo "rehearsed leap at $leap"

serve() { # PORT POLICY SIGN
  "$bin" serve --listen "127.0.0.1:$1" --assume-synced --policy "$2" --rehearse "$leap,$3" \
    >"$out/server-$1.log" 2>&1 &
  pids+=($!)
}
serve "$port" step +1
serve "$((port + 1))" linear:-30s:1m +1
serve "$((port + 2))" quadratic:0s:1m +1
serve "$((port + 3))" cosine:-30s:1m -1

servers=()
for i in 0 1 2 3; do servers+=("127.0.0.1:$((port + i))"); done
# Wait until every server answers (ten seconds at most).
for _ in $(seq 50); do
  "$bin" query --timeout 200ms "${servers[@]}" >/dev/null 2>&1 && break
  sleep 0.2
done

# Watch until every window is over and ten seconds more.
for=$(( $(date -u -d "$leap" +%s) + 70 - $(date +%s) ))
"$bin" watch "${servers[@]}" --for "${for}s" --every 250ms --leap "$leap" \
  --svg "$out/rehearsal.svg" --csv "$out/rehearsal.csv" | tee "$out/rehearsal.txt"
echo "chart: $out/rehearsal.svg"
