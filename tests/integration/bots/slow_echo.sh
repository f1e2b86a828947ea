#!/bin/bash
# slow_echo.sh — a bot for msg-bot(1) tests that takes its time: it reads
# one record at a time (bash's read takes no more than the line from the
# pipe), waits BOT_DELAY seconds (0.05 by default), then answers
# "echo: TEXT".  Killing it mid-stream leaves messages it was given but
# never answered, which msg bot must give to the next one.
set -u
while IFS= read -r line; do
	sleep "${BOT_DELAY:-0.05}"
	jq -c '{conv, text: ("echo: " + (.text // ""))}' <<<"$line" || exit 1
done
