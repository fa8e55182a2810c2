#!/usr/bin/env bash
# Bytes a candidate's machine sends per bundled scenario when streaming to
# a server (events + flagged clips; no continuous video), and the same per
# hour of exam. Figures go in docs/performance.md.
#
#   benches/bytes_per_hour.sh [path/to/invigil]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/invigil}"
[[ -x "$bin" ]] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(( 20000 + RANDOM % 20000 ))
"$bin" serve --data "$work/data" --listen "127.0.0.1:$port" 2>/dev/null &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "| scenario | media time | events | clips | bytes sent | requests | per hour of exam |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in tests/scenarios/*.toml; do
    name="$(basename "$s" .toml)"
    out="$("$bin" watch --quiet --source "$s" --server "http://127.0.0.1:$port" \
        --exam bytes --candidate "$name" --journal "$work/j-$name" --events "$work/$name.jsonl" 2>&1 || true)"
    line="$(grep -o 'sent [0-9]* events and [0-9]* media ([0-9]* bytes up, [0-9]* requests)' <<<"$out")"
    read -r events clips bytes requests < <(sed -E 's/sent ([0-9]+) events and ([0-9]+) media \(([0-9]+) bytes up, ([0-9]+) requests\)/\1 \2 \3 \4/' <<<"$line")
    # Media time: duration_ms of session_ended.
    ms="$(grep '"session_ended"' "$work/$name.jsonl" | sed -E 's/.*"duration_ms":([0-9]+).*/\1/')"
    # HTTP request and response headers add ~350 bytes a request.
    total=$(( bytes + 350 * requests ))
    per_hour="$(awk -v b="$total" -v ms="$ms" 'BEGIN { printf "%.1f MB", b * 3600000 / ms / 1e6 }')"
    echo "| $name | $(awk -v ms="$ms" 'BEGIN{printf "%.0f s", ms/1000}') | $events | $clips | $total | $requests | $per_hour |"
done
