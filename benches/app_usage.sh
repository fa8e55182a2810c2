#!/usr/bin/env bash
# CPU and memory of the candidate app (debug or release binary) on a 30 fps
# 640x480 fixture camera, under Xvfb: idle on the start screen, then during
# a monitored exam streamed to a local server. Figures go in
# docs/performance.md.
#
#   benches/app_usage.sh [path/to/invigil-app] [path/to/invigil]
#   PERF=1 ...        also prints the app's top symbols while monitoring
#   SMAPS=FILE ...    also saves its memory map and prints the largest parts
# Needs Xvfb, tauri-driver, WebKitWebDriver, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
app="$(realpath "${1:-target/release/invigil-app}")"
cli="${2:-target/release/invigil}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# 60 s of 30 fps 640x480 video: present, away 15 s, back.
sed -e 's/^fps = 10/fps = 30/' tests/scenarios/present_throughout.toml > "$work/scenario.toml"
sed -i "s#\.\./fixtures#$PWD/tests/fixtures#g" "$work/scenario.toml"
"$cli" qa render "$work/scenario.toml" --y4m "$work/camera.y4m" >/dev/null

port=$(( 20000 + RANDOM % 20000 ))
echo "bench password 1" | "$cli" proctor add bench --role admin --password-stdin --data "$work/data" >/dev/null 2>&1
"$cli" serve --data "$work/data" --listen "127.0.0.1:$port" 2>/dev/null & pids+=($!)
sleep 1
# An exam whose check-in is the fixture's photos (no head-turn liveness
# step: the fixture camera cannot turn its head), one candidate, a code.
export INVIGIL_SERVER="http://127.0.0.1:$port" INVIGIL_USER=bench INVIGIL_PASSWORD='bench password 1'
"$cli" exams create bench --title "App usage bench" --opens now --closes "$(date -u -d "+1 day" +%Y-%m-%dT%H:%M:%SZ)" --no-liveness >/dev/null
token="$("$cli" exams enrol bench --candidate app | awk -F, 'NR > 1 && $4 != "" {print $4; exit}')"
[[ -n "$token" ]] || { echo "no launch code" >&2; exit 1; }

Xvfb :93 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
sleep 1
DISPLAY=:93 INVIGIL_SOURCE="$work/camera.y4m" INVIGIL_CHECKIN_SOURCE="$PWD/tests/fixtures/checkin/checkin.toml" INVIGIL_SERVER="http://127.0.0.1:$port" INVIGIL_DATA_DIR="$work/app" \
    tauri-driver --port 4711 --native-port 4712 >/dev/null 2>&1 & pids+=($!)
sleep 1
wd=http://127.0.0.1:4711
sid="$(curl -s -X POST $wd/session -H 'content-type: application/json' \
    -d "{\"capabilities\":{\"alwaysMatch\":{\"tauri:options\":{\"application\":\"$app\"}}}}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')"
el() { curl -s -X POST "$wd/session/$sid/element" -H 'content-type: application/json' \
    -d "{\"using\":\"css selector\",\"value\":\"$1\"}" | python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(v.get("element-6066-11e4-a52e-4f735466cecf",""))'; }
click() { local id=""; for _ in $(seq 100); do id="$(el "$1")"; [[ -n "$id" ]] && break; sleep 0.2; done
    curl -s -X POST "$wd/session/$sid/element/$id/click" -H 'content-type: application/json' -d '{}' >/dev/null; }
# Waits until "Take photo" is enabled (the check-in judged the picture
# right), then presses it.
photo() { for _ in $(seq 150); do
        local id; id="$(el '#take-photo')"
        if [[ -n "$id" ]] && curl -s "$wd/session/$sid/element/$id/attribute/aria-disabled" | grep -q '"false"'; then
            click '#take-photo'; sleep 1; return; fi
        sleep 0.2; done; echo "the check-in never became ready" >&2; exit 1; }

apppid="$(pgrep -n -f "$(basename "$app")")"
# CPU seconds (user+system) and proportional memory (PSS) of a set of
# processes: the app itself, and WebKit's helper processes (drawing).
webkit() { pgrep -P "$apppid" || true; }
sample() { # pids...
    local total=0 pss=0
    for p in "$@"; do
        read -r -a f < "/proc/$p/stat" || continue
        total=$(( total + f[13] + f[14] ))
        pss=$(( pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup") ))
    done
    echo "$total $pss"
}
measure() { # label seconds
    local helpers; helpers="$(webkit)"
    read -r a0 _ < <(sample "$apppid"); read -r w0 _ < <(sample $helpers)
    sleep "$2"
    read -r a1 am < <(sample "$apppid"); read -r w1 wm < <(sample $helpers)
    awk -v l="$1" -v a=$(( a1 - a0 )) -v w=$(( w1 - w0 )) -v s="$2" -v am="$am" -v wm="$wm" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "| %s | %.1f%% | %.1f%% | %.0f MB | %.0f MB |\n", l, 100*a/hz/s, 100*w/hz/s, am/1024, wm/1024 }'
}
sleep 3
echo "| state | CPU, app process (% of one core) | CPU, WebKit processes | memory (PSS), app | memory (PSS), WebKit |"
echo "|---|---:|---:|---:|---:|"
measure "idle (start screen)" 15
curl -s -X POST "$wd/session/$sid/element/$(el '#session-code')/value" -H 'content-type: application/json' -d "{\"text\":\"$token\"}" >/dev/null
click '#start'; click '#begin-checkin'
for _ in 1 2 3 4 5 6 7; do photo; done
click '#begin-exam'; sleep 5
measure "monitoring (30 fps 640x480, streaming)" 30
# With SMAPS=FILE: the app's memory map while monitoring, for reading
# where its memory goes (the largest mappings by PSS are printed).
if [[ -n "${SMAPS:-}" ]]; then
    cp "/proc/$apppid/smaps" "$SMAPS"
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "[anon]" : $6)} /^Pss:/ {pss[name] += $2}
         END {for (n in pss) printf "%8.1f MB  %s\n", pss[n]/1024, n}' "$SMAPS" | sort -rn | head -15
fi
# With PERF=1: where the app's time goes while monitoring.
if [[ -n "${PERF:-}" ]]; then
    perf record -F 499 -g -o "$work/perf.data" -p "$apppid" -- sleep 15 >/dev/null 2>&1
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25
fi
