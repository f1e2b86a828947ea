#!/bin/bash
# t_monitor — msg monitor driven under tmux (send-keys, capture-pane): the
# board draws its three parts, a customer who writes appears on it, Tab
# picks the campaign, a resize (SIGWINCH) redraws at the new width, q
# quits; without a terminal it prints what msg stats prints.  The tmux
# server is a private one (-S under the test home), ended at exit.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || skip_all "tmux is not installed"
plan 8
stack_start
TS=$T_HOME/tmux.sock
trap 'tmux -S "$TS" kill-server 2>/dev/null; stack_stop' EXIT
tm() { tmux -S "$TS" "$@"; }
screen() { tm capture-pane -p -t mon 2>/dev/null; }
shows() { screen | grep -q -- "$1"; }

out=$(msg monitor </dev/null)
is "$(tail -n 1 <<<"$out" | jq -r .type)" sync "without a terminal: msg stats' output"

tm new-session -d -s mon -x 132 -y 40 \
    "env PATH='$PATH' PARLEY_CONF='$PARLEY_CONF' TERM=xterm msg monitor; sleep 30"
ok "the board draws its campaigns, agents and waiting customers" \
    wait_for 10 shows 'WAITING CUSTOMER'
is "$(tw_post /twilio/inbound - $(inbound_params "$(sm_sid)" +15553330001 +15557654321 Hi))" \
    200 "a customer writes"
ok "the customer appears on the board" wait_for 3 shows '+15553330001'
tm send-keys -t mon Tab
ok "Tab picks the campaign" wait_for 3 shows 'campaign: default'
tm resize-window -t mon -x 100 -y 30 2>/dev/null ||
    tm resize-pane -t mon -x 100 -y 30
narrow() { [ "$(screen | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 100 ] &&
    shows 'WAITING CUSTOMER'; }
ok "a resize redraws at the new size" wait_for 3 narrow
tm send-keys -t mon q
gone() { ! pgrep -f "msg monitor" -P "$(tm display -p -t mon '#{pane_pid}')" >/dev/null; }
ok "q quits" wait_for 3 gone
ok "the terminal is given back (alternate screen left)" wait_for 3 bash -c "! tmux -S '$TS' capture-pane -p -t mon | grep -q 'WAITING CUSTOMER'"
