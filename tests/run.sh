#!/bin/sh
# run.sh — the test runner `make test` calls.  It runs, in order:
#   1. every unit test binary $BUILD/tests/* (C programs printing TAP);
#   2. every fuzz replay $BUILD/fuzz/<t> over tests/fuzz/corpus/<t>/ (seeds
#      and kept crashers: each input is one TAP line);
#   3. every integration test tests/integration/*.sh (bash scripts that start
#      the real daemons and print TAP; lib.sh and lib_*.sh are theirs, not tests).
# Each "ok" line counts as passed and each "not ok" line (without # TODO) as
# failed; a program that exits non-zero, dies, or runs fewer tests than it
# planned counts one more failure.  Failures are shown with their
# diagnostics and the end of the program's stderr.  The last line is
# exactly "N passed, N failed"; the exit status is 1 when anything failed.
#
# Environment: BUILD (build; make asan sets build-asan), PARLEY_BIN
# ($BUILD/bin), TEST_TIMEOUT (seconds per program: 600), TESTS (a pattern
# to run only matching programs, e.g. TESTS='t_frame*').
set -u

src=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$src" || exit 1
BUILD=${BUILD:-build}
case $BUILD in
/*) build=$BUILD ;;
*) build=$src/$BUILD ;;
esac
PARLEY_BIN=${PARLEY_BIN:-$build/bin}
PARLEY_SRC=$src
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
TESTS=${TESTS:-*}
export PARLEY_SRC PARLEY_BIN BUILD
# sanitizer builds: report with stacks and fail the program
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export UBSAN_OPTIONS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-tests.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
: >"$tmp/failures"

passed=0
failed=0
skipped=0

# run_tap NAME COMMAND [ARG...]: run one TAP program and count its lines.
run_tap() {
	name=$1
	shift
	cmd="$*"
	out=$tmp/out
	err=$tmp/err
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 10 "$TEST_TIMEOUT" "$@" >"$out" 2>"$err" </dev/null
	else
		"$@" >"$out" 2>"$err" </dev/null
	fi
	rc=$?
	# counts: ok, not ok (failing), skips; the plan; bail out
	# shellcheck disable=SC2046 # six words, split on purpose
	set -- $(awk '
		/^ok[ \t]/ || /^ok$/ {
			if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) s++; else p++; n++; next }
		/^not ok/ {
			if ($0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) t++; else f++; n++; next }
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); split($0, a, /[^0-9]/);
			plan = a[1]; next }
		/^Bail out!/ { bail = 1 }
		END { printf "%d %d %d %d %s %d\n", p, f, s, n,
			(plan == "" ? "-" : plan), bail }' "$out")
	p=$1 f=$2 s=$3 n=$4 plan=$5 bail=$6
	why=""
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after ${TEST_TIMEOUT}s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$bail" = 1 ]; then
		why="bailed out"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		why="exited with status $rc"
	elif [ "$plan" = - ]; then
		why="printed no plan (1..N)"
	elif [ "$plan" != "$n" ]; then
		why="planned $plan tests, ran $n"
	fi
	passed=$((passed + p + s))
	skipped=$((skipped + s))
	failed=$((failed + f))
	[ -n "$why" ] && failed=$((failed + 1))
	if [ "$f" -gt 0 ] || [ -n "$why" ]; then
		printf '%-32s FAIL (%d ok, %d not ok%s)\n' "$name" "$p" "$f" \
		    "${why:+, $why}"
		{
			echo "=== $name: $cmd"
			[ -n "$why" ] && echo "    $why"
			# each failing line with the diagnostics under it
			awk '/^not ok/ && !/#[ \t]*[Tt][Oo][Dd][Oo]/ { show = 1;
				print "    " $0; next }
			     /^#/ && show { print "    " $0; next }
			     { show = 0 }' "$out" | head -n 200
			if [ -n "$why" ]; then
				echo "    --- last lines of output"
				grep -v '^ok' "$out" | tail -n 15 | sed 's/^/    /'
			fi
			if [ -s "$err" ]; then
				echo "    --- last lines of stderr"
				tail -n 30 "$err" | sed 's/^/    /'
			fi
		} >>"$tmp/failures"
	else
		printf '%-32s ok (%d%s)\n' "$name" "$((p + s))" \
		    "$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
}

matches() {
	# shellcheck disable=SC2254 # TESTS is a pattern
	case $1 in
	$TESTS) return 0 ;;
	esac
	return 1
}

echo "# unit tests ($BUILD/tests)"
for t in "$build"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	matches "${t##*/}" || continue
	run_tap "unit/${t##*/}" "$t"
done

echo "# fuzz corpus replays ($BUILD/fuzz, tests/fuzz/corpus)"
for t in "$build"/fuzz/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=${t##*/}
	matches "$name" || continue
	corpus=$src/tests/fuzz/corpus/$name
	if [ -d "$corpus" ]; then
		run_tap "fuzz/$name" "$t" "$corpus"
	else
		run_tap "fuzz/$name" "$t"
	fi
done

echo "# integration tests (tests/integration, PARLEY_BIN=$PARLEY_BIN)"
for t in "$src"/tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=${t##*/}
	case $name in
	lib.sh|lib_*|_*) continue ;;
	esac
	matches "${name%.sh}" || matches "$name" || continue
	run_tap "integration/${name%.sh}" bash "$t"
done

if [ -s "$tmp/failures" ]; then
	echo
	echo "# failures"
	cat "$tmp/failures"
fi
echo
[ "$skipped" -gt 0 ] && echo "# $skipped of the passed were skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
