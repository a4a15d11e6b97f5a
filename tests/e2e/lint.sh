#!/usr/bin/env bash
# lint.sh — `lanegate lint` end to end: exit codes 0/2, diagnostics on stderr as
# FILE:LINE:COL: MESSAGE (for every bad fixture, at the position its
# "# expect:" lines give), the summary on stdout, usage errors.
# Run from the repo root with LANEGATE set to the binary (make test does both).
set -u
. "$(dirname "$0")/cli_lib.sh"

# The default policies are valid.
run lint
expect_rc 0 "lint (default ./policies)"
[ "$out" = "6 policy objects OK" ] && ok || bad "default summary: '$out'"
[ -z "$err" ] && ok || bad "default lint printed to stderr: $err"
run lint --policies policies
expect_rc 0 "lint --policies policies"
run lint --policies=policies/
expect_rc 0 "lint --policies=policies/"
run lint policies/00-lanes.yaml policies/10-lane-privilege.yaml
expect_rc 0 "lint FILE FILE"
[ "$out" = "3 policy objects OK" ] && ok || bad "files summary: '$out'"

# Every bad fixture, alone: exit 2, each expected diagnostic as FILE:LINE:COL: MESSAGE.
nfix=0
for f in tests/data/policies/bad/*.yaml; do
    nfix=$((nfix + 1))
    run lint "$f"
    expect_rc 2 "lint $f"
    n=0
    while IFS= read -r line; do
        case "$line" in "# expect: "*) ;; *) break ;; esac
        spec=${line#\# expect: }
        pos=${spec%%: *}
        text=${spec#*: }
        if [ "$pos" = "0:0" ]; then prefix="$f: "; else prefix="$f:$pos: "; fi
        n=$((n + 1))
        if grep -qF -- "$prefix" "$tmp/err" && grep -F -- "$prefix" "$tmp/err" | grep -qF -- "$text"; then
            ok
        else
            bad "$f: no '$prefix...$text' in: $err"
        fi
    done < <(sed '1s/^\xEF\xBB\xBF//' "$f")
    # every stderr line is a diagnostic in the FILE:LINE:COL: or FILE: form
    if grep -qvE "^$f(:[0-9]+:[0-9]+)?: " "$tmp/err"; then bad "$f: stray stderr line: $err"; else ok; fi
    [ "$(wc -l <"$tmp/err")" -eq "$n" ] && ok || bad "$f: $(wc -l <"$tmp/err") diagnostics, $n expected"
    [ "$out" = "$n error" ] || [ "$out" = "$n errors" ] && ok || bad "$f: summary '$out'"
done
[ "$nfix" -ge 30 ] && ok || bad "only $nfix bad fixtures"

# A bad directory: a broken copy of the defaults.
mkdir "$tmp/pol"
cp policies/*.yaml "$tmp/pol/"
sed -i 's/privileged: true/privileged: yes/' "$tmp/pol/00-lanes.yaml"
run lint --policies "$tmp/pol"
expect_rc 2 "lint of a broken directory"
want="$tmp/pol/00-lanes.yaml:13:17: spec.allow.privileged: expected true or false, got \"yes\""
[ "$err" = "$want" ] && ok || bad "broken dir: got '$err', want '$want'"
[ "$out" = "1 error" ] && ok || bad "broken dir summary: '$out'"

# Duplicates across files name both places.
run lint --policies tests/data/policies/multi-bad
expect_rc 2 "lint multi-bad"
echo "$err" | grep -qF "tests/data/policies/multi-bad/b.yaml:15:9: duplicate PodPolicy \"lane-privilege\": defined at tests/data/policies/multi-bad/a.yaml:15:9 and at tests/data/policies/multi-bad/b.yaml:15:9" && ok || bad "multi-bad: $err"

# Empty and missing directories.
mkdir "$tmp/empty"
run lint --policies "$tmp/empty"
expect_rc 2 "lint of an empty directory"
echo "$err" | grep -qF "$tmp/empty: no policies found" && ok || bad "empty dir: $err"
run lint --policies "$tmp/missing"
expect_rc 2 "lint of a missing directory"
echo "$err" | grep -qF "$tmp/missing: cannot open policy directory" && ok || bad "missing dir: $err"

# The examples of README.md "## Policy format" are a valid set.
mkdir "$tmp/readme"
awk '/^## Policy format/{on=1; next} /^## /{on=0} on && /^```yaml$/{inb=1; n++; next} inb && /^```$/{inb=0; next} inb{print > (dir "/ex" n ".yaml")}' \
    dir="$tmp/readme" README.md
nex=$(ls "$tmp/readme" | wc -l)
[ "$nex" -ge 2 ] && ok || bad "README.md: only $nex yaml examples found"
run lint --policies "$tmp/readme"
expect_rc 0 "lint of the README examples ($err)"

# Usage.
run lint --help
expect_rc 0 "lint --help"
echo "$out" | grep -q "^usage: lanegate lint" && ok || bad "lint --help: $out"
run help lint
expect_rc 0 "help lint"
run lint --bogus
expect_rc 2 "lint --bogus"
echo "$err" | grep -q "unknown option '--bogus'" && ok || bad "--bogus: $err"
run lint --policies
expect_rc 2 "lint --policies (no value)"
run lint --policies policies policies/00-lanes.yaml
expect_rc 2 "lint --policies DIR FILE"

echo "lint.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
