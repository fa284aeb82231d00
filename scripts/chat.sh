#!/usr/bin/env bash
# Runs the chat in this terminal: builds, starts a demo chat-server on 127.0.0.1:7878 (plain-text
# port 7879) unless one is already listening there, and opens chat-tui as NAME.
# Run it again in a second terminal with another name to chat with yourself.
#
# The demo server keeps its history inside this checkout (target/chat-demo/history.db), never
# in your own chat-server's database, and runs on its own: leaving the client does not take it
# away from the others. `scripts/chat.sh --stop` stops it.
#
#   scripts/chat.sh Michael
#   scripts/chat.sh Tracy          # in a second terminal
#   scripts/chat.sh --stop         # stop the demo server
set -euo pipefail
cd "$(dirname "$0")/.."

server="127.0.0.1:7878"
# Where cargo puts the binaries: its own default, or the CARGO_TARGET_DIR of the person's.
bin="${CARGO_TARGET_DIR:-target}/release"
demo="target/chat-demo"
pidfile="$demo/chat-server.pid"
log="$demo/chat-server.log"

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/7878") 2>/dev/null
}

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
    echo "Stopped the demo chat-server (pid $(cat "$pidfile"))."
    rm -f "$pidfile"
  else
    echo "No demo chat-server of this checkout is running."
  fi
  exit 0
fi

name="${1:-${USER:-guest}}"

echo "Building chat-server and chat-tui (release; the first build takes a few minutes)..."
cargo build --release -p chat-server -p chat-tui

if listening; then
  echo "Using the chat-server already listening on $server."
else
  mkdir -p "$demo"
  # A session of its own: Ctrl-C in this terminal, or closing it, does not reach the server.
  setsid "$bin/chat-server" --listen "$server" --plain-listen 127.0.0.1:7879 \
    --db "$demo/history.db" >"$log.out" 2>"$log" </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 50); do
    if listening; then break; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "chat-server did not start; see $log:" >&2
      cat "$log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.1
  done
  echo "Started the demo chat-server on $server (pid $(cat "$pidfile"); history in $demo/history.db, log: $log)."
fi

status=0
"$bin/chat-tui" --name "$name" --server "$server" || status=$?
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "The demo chat-server is still running for anyone else connected; scripts/chat.sh --stop stops it."
fi
exit "$status"
