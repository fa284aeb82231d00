#!/usr/bin/env bash
# Runs the chat in this terminal: builds, starts a chat-server on 127.0.0.1:7878 (plain-text
# port 7879) unless one is already listening there, and opens chat-tui as NAME.
# Run it again in a second terminal with another name to chat with yourself; the first one
# started the server and stops it when it exits.
#
#   scripts/chat.sh Michael
#   scripts/chat.sh Tracy          # in a second terminal
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-${USER:-guest}}"
server="127.0.0.1:7878"

cargo build --release --quiet -p chat-server -p chat-tui

if (exec 3<>"/dev/tcp/127.0.0.1/7878") 2>/dev/null; then
  echo "Using the chat-server already listening on $server."
else
  log="target/chat-server.log"
  target/release/chat-server --listen "$server" --plain-listen 127.0.0.1:7879 >"$log.out" 2>"$log" &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/7878") 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "chat-server did not start; see $log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "Started chat-server on $server (log: $log)."
fi

target/release/chat-tui --name "$name" --server "$server"
