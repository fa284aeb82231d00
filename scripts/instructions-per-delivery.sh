#!/usr/bin/env bash
# User-space instructions a server spends per message delivered, counted by callgrind: what
# README's "Cutting the session's cost per delivery" table shows. Unlike wall-clock figures,
# the count does not move with a noisy machine (two runs of one build agree within a few %).
#
# The server runs under valgrind while chat-bench's paced fan-out (MEMBERS members, RATE
# messages a second in all) talks to it, once for 5 s and once for 15 s; the difference,
# divided by the deliveries of the extra 10 s, leaves out connecting and joining.
#
# With STEADY=1, the server runs once, with callgrind's instrumentation switched on only for
# 10 s well after the joins (callgrind_control -i on/off): steadier at 1,000 members, where
# the joins' own cost varies from run to run by more than a change moves a delivery.
#
#   [STEADY=1] scripts/instructions-per-delivery.sh [file|off|bare] [MEMBERS] [RATE]
#
# Needs valgrind (apt-get install valgrind) and a release build
# (cargo build --release -p chat-server -p chat-bench). Everything stays on 127.0.0.1.
set -euo pipefail

mode=${1:-off}
members=${2:-100}
rate=${3:-20}
bin=$(cd "$(dirname "$0")/.." && pwd)/target/release
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
[ -x "$bin/chat-server" ] && [ -x "$bin/chat-bench" ] ||
    { echo "needs cargo build --release -p chat-server -p chat-bench" >&2; exit 2; }

# Instructions of one run of the server under callgrind, the bench talking to it for $1 s.
instructions() {
    local seconds=$1 dir pid addr
    dir=$(mktemp -d)
    case $mode in
        bare) server=("$bin/chat-bench" --baseline-server) ;;
        off) server=("$bin/chat-server" --listen 127.0.0.1:0 --no-plain --no-history) ;;
        file) server=("$bin/chat-server" --listen 127.0.0.1:0 --no-plain --db "$dir/history.db") ;;
        *) echo "mode: file, off or bare" >&2; exit 2 ;;
    esac
    [ "$mode" = bare ] || server+=(--no-flood-control --max-connections-per-ip 1000000
        --max-connections 1000000 --max-room-members 1000000)
    local at_start=yes
    [ "${STEADY:-0}" = 1 ] && at_start=no
    valgrind --tool=callgrind --instr-atstart=$at_start --callgrind-out-file="$dir/callgrind.out" \
        "${server[@]}" >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 300); do grep -q 'json=' "$dir/out" && break; sleep 0.1; done
    addr=$(grep -o 'json=[0-9.:]*' "$dir/out" | cut -d= -f2)
    [ -n "$addr" ] || { echo "the server did not start: $(cat "$dir/err")" >&2; kill "$pid"; exit 1; }
    if [ "${STEADY:-0}" = 1 ]; then
        "$bin/chat-bench" --connect "$addr" --members "$members" --total-rate "$rate" \
            --seconds "$seconds" >"$dir/bench" 2>&1 &
        sleep 14
        callgrind_control -i on "$pid" >/dev/null 2>&1
        sleep 10
        callgrind_control -i off "$pid" >/dev/null 2>&1
        wait $!
    else
        "$bin/chat-bench" --connect "$addr" --members "$members" --total-rate "$rate" \
            --seconds "$seconds" >"$dir/bench" 2>&1
    fi
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    # `summary` counts from the start; `totals`, what was instrumented.
    grep -o 'totals: [0-9]*' "$dir/callgrind.out" | cut -d' ' -f2
    rm -rf "$dir"
}

deliveries=$((members * rate * 10))
if [ "${STEADY:-0}" = 1 ]; then
    counted=$(instructions 25)
else
    short=$(instructions 5)
    long=$(instructions 15)
    counted=$((long - short))
fi
echo "$mode, $members members, $rate msg/s: $((counted / deliveries)) instructions per delivery" \
    "($counted over $deliveries deliveries)"
