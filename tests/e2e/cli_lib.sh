# cli_lib.sh — the small harness the CLI end-to-end scripts share (sourced, not
# run): pass/fail counters, `run` capturing exit code and output, `expect_rc`.
# Needs LANEGATE (the binary) and sets up $tmp, removed on exit.
: "${LANEGATE:?set LANEGATE to the lanegate binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run ARGS... [< input]: sets rc, out, err (stdout is also kept byte-exact in $tmp/out)
run() {
    "$LANEGATE" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

expect_rc() { # want description
    if [ "$rc" = "$1" ]; then ok; else bad "$2: exit $rc, want $1 (stdout: $out; stderr: $err)"; fi
}
