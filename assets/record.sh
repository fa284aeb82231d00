#!/usr/bin/env bash
# Re-makes the README picture from a real chat session:
#
#     assets/record.sh
#
# Builds the workspace, starts a chat-server on free ports, runs two chat-tui clients
# (Michael and Tracy) in private tmux sessions, types a short conversation into them (Michael
# registers his nick and makes #rust, with a topic, so it is his), lets a
# plain-text guest join over a raw TCP socket, then captures Michael's screen:
#
#     assets/session.ans   the capture with colours (`cat` it in a terminal to see it)
#     assets/session.txt   the same without colours
#     assets/session.svg   the picture, drawn by assets/ansi2svg.py
#     assets/help.svg      the same screen with the help overlay (F1)
#
# Needs cargo, tmux and python3 (standard library only). Nothing is left running: the tmux
# sessions (on a tmux server of their own), the guest and the chat-server are stopped on every
# exit path. Set PAUSE (seconds, default 0.6) for a slower machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
pause="${PAUSE:-0.6}"
cols=100
rows=28

work="$(mktemp -d "${TMPDIR:-/tmp}/chat-record.XXXXXX")"
sock="chat-record-$$"  # a tmux server of our own: never touches the user's sessions
michael="michael-$$"
tracy="tracy-$$"
socket_path="${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"  # tmux leaves it behind; removed at the end
server_pid=""
guest_pid=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    tmux -L "$sock" kill-session -t "=$michael" 2>/dev/null || true
    tmux -L "$sock" kill-session -t "=$tracy" 2>/dev/null || true
    if [[ -S "$socket_path" ]]; then
        rm -f -- "$socket_path"
    fi
    if [[ -n "$guest_pid" ]]; then
        kill "$guest_pid" 2>/dev/null || true
        wait "$guest_pid" 2>/dev/null || true
    fi
    if [[ -n "$server_pid" ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -d "$work" ]]; then
        echo "record.sh: failed (exit $status); server log:" >&2
        sed 's/^/    /' "$work/server.log" >&2 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "record.sh: $*" >&2
    exit 1
}

# --- build -----------------------------------------------------------------------------------
(cd "$root" && cargo build --workspace)
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
[[ -x "$bin/chat-server" && -x "$bin/chat-tui" ]] || die "no binaries in $bin"

# --- server ----------------------------------------------------------------------------------
NO_COLOR=1 "$bin/chat-server" --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 --db :memory: \
    >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

line=""
for _ in $(seq 100); do
    line="$(head -n 1 "$work/server.out" 2>/dev/null || true)"
    [[ "$line" == *plain=* ]] && break
    kill -0 "$server_pid" 2>/dev/null || die "chat-server exited early"
    sleep 0.1
done
# chat-server listening: json=127.0.0.1:PORT plain=127.0.0.1:PORT2
[[ "$line" =~ json=([^[:space:]]+)[[:space:]]+plain=([^[:space:]:]+):([0-9]+) ]] ||
    die "could not read the ports from: '$line'"
json_addr="${BASH_REMATCH[1]}"
plain_host="${BASH_REMATCH[2]}"
plain_port="${BASH_REMATCH[3]}"
echo "chat-server: json=$json_addr plain=$plain_host:$plain_port (pid $server_pid)"

# --- clients in tmux -------------------------------------------------------------------------
cat >"$work/tmux.conf" <<'EOF'
set -g status off
set -g default-terminal "tmux-256color"
set -g escape-time 0
EOF

tm() { tmux -L "$sock" "$@"; }

start_client() { # session nick
    tm -f "$work/tmux.conf" new-session -d -s "$1" -x "$cols" -y "$rows" \
        env LANG=C.UTF-8 HOME="$work" XDG_CONFIG_HOME="$work" \
        "$bin/chat-tui" --name "$2" --server "$json_addr"
}

# Waits until the session's screen matches PATTERN (grep -E).
wait_for() { # session pattern [tries of 0.1s]
    local tries="${3:-100}"
    local screen
    for _ in $(seq "$tries"); do
        screen="$(tm capture-pane -p -t "=$1:" 2>/dev/null || true)"
        grep -qE -- "$2" <<<"$screen" && return 0
        sleep 0.1
    done
    tm capture-pane -p -t "=$1:" >&2 2>/dev/null || true
    die "timed out waiting for '$2' in $1"
}

# Types a line into a client and presses Enter.
say() { # session text
    tm send-keys -t "=$1:" -l -- "$2"
    tm send-keys -t "=$1:" Enter
    sleep "$pause"
}

start_client "$michael" Michael
start_client "$tracy" Tracy
wait_for "$michael" " online "
wait_for "$tracy" " online "
sleep "$pause"

# --- the conversation ------------------------------------------------------------------------
say "$tracy" "morning all! ☕ I'll be in #rust"
# Michael makes his nick an account, so the room he makes is his: he sets its topic.
say "$michael" "/register correct horse battery"
wait_for "$michael" "now your account"
say "$michael" "/join rust"
wait_for "$michael" "you joined #rust"
say "$michael" "/topic Rust 1.92 is out · release notes at blog.rust-lang.org · be kind"
wait_for "$michael" "set the topic"
say "$tracy" "/join rust"
wait_for "$tracy" "you joined #rust"

say "$tracy" "hey Michael 👋"
say "$michael" "morning Tracy! the new build is up, want to try it?"
say "$tracy" "already on it. 中文也没问题：你好，世界 🌏"
say "$michael" "and the wide characters line up, nice"

# A guest without chat-tui: a few lines of Python over the plain-text port.
python3 - "$plain_host" "$plain_port" >"$work/guest.log" 2>&1 <<'PY' &
import socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.create_connection((host, port), timeout=10)

def read_until(text):
    data = b""
    while text.encode() not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.decode(errors="replace"), end="", flush=True)

read_until("name?")
for line in ["Guest", "/join rust", "hi both, I'm on a raw TCP socket, no client needed"]:
    sock.sendall((line + "\n").encode())
    time.sleep(0.4)
sock.settimeout(None)
while chunk := sock.recv(4096):  # stay in the room until stopped
    print(chunk.decode(errors="replace"), end="", flush=True)
PY
guest_pid=$!
wait_for "$michael" "raw TCP socket"

say "$tracy" "welcome Guest! that's the plain-text port: anything that can open a socket can chat here, nc, telnet or a ten-line script 🐍"
say "$michael" "/me waves at Guest"
say "$tracy" "/msg Michael lunch after the demo? 🍜"
wait_for "$michael" "@Tracy"
say "$michael" "/msg Tracy sure, 12:30 at the noodle place"
say "$michael" "/who"
wait_for "$michael" "members of #rust: .*Guest"
# Talk in lobby while Michael looks at #rust: an unread mark, and a mention of him.
say "$tracy" "/join lobby"
say "$tracy" "Michael: the demo room is ready when you are"
wait_for "$michael" "#lobby\\(1,1!\\)"
say "$tracy" "/join rust"
tm send-keys -t "=$michael:" F2  # the member list
sleep "$pause"
# Something typed but not sent yet, so the input line has a cursor to show.
tm send-keys -t "=$michael:" -l -- "shall we tag the release today?"
sleep "$pause"

# --- capture and render ----------------------------------------------------------------------
tm capture-pane -e -p -t "=$michael:" >"$here/session.ans"
tm capture-pane -p -t "=$michael:" >"$here/session.txt"
cursor="$(tm display-message -p -t "=$michael:" '#{cursor_x},#{cursor_y}')"
python3 "$here/ansi2svg.py" "$here/session.ans" "$here/session.svg" \
    --cols "$cols" --rows "$rows" --cursor "$cursor" \
    --title "chat-tui: Michael's #rust, with its topic, Tracy and a plain-text guest"

# The help overlay, over the same screen.
tm send-keys -t "=$michael:" F1
sleep "$pause"
tm capture-pane -e -p -t "=$michael:" >"$work/help.ans"
python3 "$here/ansi2svg.py" "$work/help.ans" "$here/help.svg" \
    --cols "$cols" --rows "$rows" \
    --title "chat-tui: the help overlay (F1 or /help)"

echo "guest saw:"
sed 's/^/    /' "$work/guest.log"
echo "wrote $here/session.svg, $here/help.svg, $here/session.txt and $here/session.ans"
