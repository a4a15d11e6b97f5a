#!/usr/bin/env bash
# cli.sh — `lanegate check`, `review` and `test` end to end: every exit code, every
# output format (text, json, patched; review bytes; test FAIL lines and summary),
# usage errors, input errors with file:line:col. Fixtures: tests/data/cli/.
# Golden outputs live in tests/data/cli/expected/; after an intended change of the
# output, `UPDATE_GOLDEN=1 make e2e` rewrites them (then read the diff before committing).
# Run from the repo root with LANEGATE set to the binary (make test does both).
set -u
. "$(dirname "$0")/cli_lib.sh"
D=tests/data/cli

has_line() { # text-exact-line description: stdout has that exact line
    if grep -qxF -- "$1" "$tmp/out"; then ok; else bad "$2: no line '$1' in: $out"; fi
}
has_err() { # fixed-string description: stderr contains it
    if grep -qF -- "$1" "$tmp/err"; then ok; else bad "$2: no '$1' in stderr: $err"; fi
}
has_out() { # fixed-string description: stdout contains it
    if grep -qF -- "$1" "$tmp/out"; then ok; else bad "$2: no '$1' in stdout: $out"; fi
}
lines_matching() { grep -c -- "$1" "$tmp/out"; }
golden() { # name: stdout byte-equal to tests/data/cli/expected/NAME
    local g=$D/expected/$1
    [ -n "${UPDATE_GOLDEN:-}" ] && cp "$tmp/out" "$g"
    if cmp -s "$tmp/out" "$g"; then ok; else
        bad "$1: stdout differs from $g"
        diff "$g" "$tmp/out" | head -20 >&2
    fi
}

# ---- check: verdicts and exit codes ------------------------------------------------

run check $D/pod-plain.yaml
expect_rc 0 "check allowed pod"
[ "$out" = "ALLOW Pod default/web lane=-" ] && ok || bad "allowed pod output: '$out'"
[ -z "$err" ] && ok || bad "allowed pod printed to stderr: $err"

run check --policies policies $D/pod-privileged.yaml
expect_rc 1 "check denied pod"
has_line "DENY Pod default/builder lane=-" "denied pod verdict"
has_out '  enforce lane-privilege: container "build" (containers[0]) sets securityContext.privileged=true' "denied pod finding"

run check $D/runner-dind.yaml
expect_rc 0 "check ARC runner"
[ "$out" = "ALLOW Pod arc-runners/runner-x lane=dind (patch: 1 op)" ] && ok || bad "runner output: '$out'"

# several documents: allowed, denied, another kind, an empty document (skipped)
run check $D/mixed.yaml
expect_rc 1 "check multi-document file"
golden check-mixed.txt
[ "$(lines_matching '^[A-Z]')" = 3 ] && ok || bad "mixed: want 3 verdict lines: $out"

# kubectl get pods,deployments -A -o json: a List; and a raw PodList without item kinds
run check $D/cluster-list.json $D/podlist-raw.json
expect_rc 1 "check lists"
golden check-lists.txt
has_line "ALLOW Pod default/a lane=-" "raw PodList item gets its kind"
has_line "DENY Deployment monitoring/node-agent lane=-" "List item Deployment"
run check $D/nested-list.yaml
expect_rc 1 "a list inside a list"
has_line "DENY Pod default/inner lane=-" "nested list items are judged"

# an AdmissionReview request; the overrides apply to it too
run check $D/review-privileged.json
expect_rc 1 "check AdmissionReview"
has_line 'DENY Pod default/builder lane=- (label "dind" not granted)' "review verdict"
run check --namespace arc-runners $D/review-privileged.json
expect_rc 0 "check AdmissionReview --namespace arc-runners"
has_line "ALLOW Pod arc-runners/builder lane=dind (patch: 1 op)" "review in a runner namespace"
run check -n arc-runners $D/pod-privileged.yaml
expect_rc 1 "check -n: privileged without the lane label"

# strings of the object cannot forge report lines: control characters are escaped
run check $D/forged-lines.yaml
expect_rc 1 "forged lines"
[ "$(wc -l <"$tmp/out")" = 2 ] && ok || bad "forged lines: want 2 lines: $out"
has_line 'DENY Pod default/a\nALLOW Pod x/y lane=dind lane=-' "escaped name"
has_out 'container "c?ALLOW fake?[31m"' "control characters in engine messages shown as ?"

# stdin
run check - < $D/pod-plain.yaml
expect_rc 0 "check - (stdin)"
[ "$out" = "ALLOW Pod default/web lane=-" ] && ok || bad "stdin output: '$out'"
run check --explain - < $D/runner-dind.yaml
expect_rc 0 "check --explain from stdin"
golden check-explain.txt
has_line "  rule lane-privilege/privileged pass" "explain: privileged rule passes for lane dind"
[ "$(lines_matching '^  rule ')" -ge 10 ] && ok || bad "explain: want a line per rule: $out"

# requester overrides: --group, --user (tests/data/cli/policies-modes)
P=$D/policies-modes
run check --policies $P $D/dind-claim.yaml
expect_rc 1 "lane needing a group, no --group"
has_out 'is not granted to the requester' "why the lane is not granted"
run check --policies $P --group system:authenticated --group ci-admins $D/dind-claim.yaml
expect_rc 0 "lane needing a group, --group given twice"
has_line "ALLOW Pod ci/dind lane=dind (patch: 1 op)" "granted by group"
run check --policies $P $D/user-claim.yaml
expect_rc 1 "lane needing a user, no --user"
run check --policies=$P --user deployer $D/user-claim.yaml
expect_rc 0 "lane needing a user, --user deployer"
has_line "ALLOW Pod ci/deployer-job lane=deploy (patch: 1 op)" "granted by user"

# --operation: DELETE is never judged; UPDATE of a pod is
run check --policies $P --operation DELETE $D/dind-claim.yaml
expect_rc 0 "--operation DELETE"
has_line "ALLOW Pod ci/dind lane=- (not evaluated)" "DELETE not evaluated"
run check --policies $P --operation update $D/dind-claim.yaml
expect_rc 1 "--operation update (case-insensitive)"

# warn and audit modes: allowed, both findings listed
run check --policies $P $D/ports-hostnet.yaml
expect_rc 0 "warn + audit findings allow"
golden check-modes.txt
run check --policies $P -o json $D/ports-hostnet.yaml
expect_rc 0 "warn + audit, -o json"
golden check-modes.json

# -o json: one array, one object per evaluated object (list items carry "item")
run check -o json $D/mixed.yaml $D/cluster-list.json
expect_rc 1 "check -o json"
golden check-mixed.json
run check -o json --explain $D/review-privileged.json
expect_rc 1 "check -o json --explain"
golden check-review-explain.json
has_out '"explain": [' "json explain array"

# -o patched: the mutated object; checking it again finds nothing left to patch
run check -o patched $D/runner-dind.yaml
expect_rc 0 "check -o patched"
golden check-runner.patched.json
for f in tests/data/pods/allow/*.yaml; do
    "$LANEGATE" check -o patched "$f" >"$tmp/patched" 2>"$tmp/err"
    r1=$?
    "$LANEGATE" check -o json - <"$tmp/patched" >"$tmp/again" 2>>"$tmp/err"
    r2=$?
    if [ "$r1" = 0 ] && [ "$r2" = 0 ] && grep -qF '"patch": []' "$tmp/again" && ! grep -q '"op"' "$tmp/again"; then
        ok
    else
        bad "$f: patched output is not a fixed point (exit $r1/$r2): $(cat "$tmp/err") $(cat "$tmp/again")"
    fi
done
run check -o patched $D/pod-privileged.yaml
expect_rc 1 "check -o patched of a denied pod still prints it"
has_out '"privileged": true' "patched output of a denied pod"

# ---- check: errors (exit 2; errors win over denials) -----------------------------------

run check $D/bad-syntax.yaml
expect_rc 2 "YAML syntax error"
has_err "$D/bad-syntax.yaml:5:2: did not find expected key" "syntax error position"
run check $D/not-object.yaml
expect_rc 2 "document not an object"
has_err "$D/not-object.yaml: document 1: not an object" "not an object"
run check $D/no-kind.yaml
expect_rc 2 "manifest without kind"
has_err "needs apiVersion and kind" "no kind"
run check $D/empty.yaml
expect_rc 2 "empty file"
has_err "$D/empty.yaml: no documents" "empty file"
run check $D/malformed-pod.yaml
expect_rc 2 "wrongly typed pod"
has_err "privileged must be a boolean" "wrong type named"
run check $D/pod-privileged.yaml $D/does-not-exist.yaml $D/pod-plain.yaml
expect_rc 2 "missing file among good ones"
has_err "$D/does-not-exist.yaml: No such file or directory" "missing file"
has_line "ALLOW Pod default/web lane=-" "files after an error are still checked"
has_line "DENY Pod default/builder lane=-" "files before an error are checked"
run check -o json $D/pod-plain.yaml $D/not-object.yaml
expect_rc 2 "-o json with an error"
has_out '"error": "not an object"' "json error entry"
run check --policies $D/policies-bad $D/pod-plain.yaml
expect_rc 2 "invalid policies"
has_err "$D/policies-bad/10-typo.yaml:9:5: unknown key \"privilegd\"" "policy error as file:line:col"
run check --policies $D/no-such-dir $D/pod-plain.yaml
expect_rc 2 "missing policy directory"

# usage errors
run check
expect_rc 2 "check without FILE"
has_err "no FILE given" "no FILE"
run check - - < $D/pod-plain.yaml
expect_rc 2 "stdin twice"
run check -o yaml $D/pod-plain.yaml
expect_rc 2 "unknown output format"
has_err "unknown output format 'yaml'" "bad -o"
run check --operation PATCH $D/pod-plain.yaml
expect_rc 2 "unknown operation"
run check --bogus $D/pod-plain.yaml
expect_rc 2 "unknown option"
has_err "unknown option '--bogus'" "unknown option named"
run check $D/pod-plain.yaml --namespace
expect_rc 2 "option without its argument"
has_err "needs an argument" "missing argument"
run check --namespace= $D/pod-plain.yaml
expect_rc 2 "empty namespace"
run check --help
expect_rc 0 "check --help"
for o in --policies --namespace --operation --user --group --explain --output text json patched; do
    has_out -- "$o" "check --help mentions $o"
done

# ---- review: byte-exact answers, exit codes ---------------------------------------------

for g in tests/data/reviews/*.response.json; do
    base=${g%.response.json}        # tests/data/reviews/NAME.ENDPOINT
    ep=${base##*.}
    req=${base%.*}.json
    run review --$ep "$req"
    expect_rc 0 "review --$ep $req"
    cmp -s "$tmp/out" "$g" && ok || bad "review --$ep $req: bytes differ from $g"
    run review --$ep --policies policies - < "$req"
    cmp -s "$tmp/out" "$g" && ok || bad "review --$ep (stdin) $req: bytes differ from $g"
    [ "$(tail -c 1 "$tmp/out")" = "}" ] && ok || bad "review output must end at the closing brace, no newline"
done
for f in tests/data/reviews/bad/*.json; do
    run review --validate "$f"
    expect_rc 2 "review bad body $f"
    [ -z "$out" ] && ok || bad "review of a bad body printed to stdout: $out"
    has_err "lanegate review: $f: " "review bad body message"
done
# A well-formed review of a malformed object is answered (exit 0); /validate denies it with 400.
for f in tests/data/reviews/malformed/*.json; do
    run review --validate "$f"
    expect_rc 0 "review --validate malformed object $f (denied, not an error)"
    has_out '"allowed":false,"status":{"code":400' "malformed object denied with 400"
    run review --mutate "$f"
    expect_rc 0 "review --mutate malformed object $f"
    has_out '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":' "mutate answer"
done
# Real apiserver bodies (../shared/corpus): a well-formed answer for each, uid echoed.
corpus=../shared/corpus/apiserver-requests
if [ -d "$corpus" ]; then
    n=0
    while IFS= read -r f; do
        uid=$(grep -m1 -o '"uid": *"[^"]*"' "$f" | sed 's/.*"\([^"]*\)"$/\1/')
        for ep in validate mutate; do
            "$LANEGATE" review --$ep "$f" >"$tmp/out" 2>"$tmp/err"
            rc=$?
            case "$(cat "$tmp/out")" in
                "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"$uid\",\"allowed\":"*"}}")
                    [ "$rc" = 0 ] && ok || bad "corpus $f --$ep: exit $rc" ;;
                *) bad "corpus $f --$ep: unexpected answer: $(head -c 300 "$tmp/out") $(cat "$tmp/err")" ;;
            esac
        done
        n=$((n + 1))
    done < <(find "$corpus" -name '*.json' | sort)
    [ "$n" -gt 100 ] && ok || bad "corpus: only $n bodies found"
else
    echo "cli.sh: $corpus not found, corpus part skipped" >&2
fi

# over the body cap (7 MiB, as the server's 413): refused, nothing printed
head -c $((7 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$tmp/big.json"
run review --validate "$tmp/big.json"
expect_rc 2 "review body over 7 MiB"
has_err "larger than 7340032 bytes" "body cap named"

run review tests/data/reviews/arc-runner-create.json
expect_rc 2 "review without --validate/--mutate"
run review --validate --mutate tests/data/reviews/arc-runner-create.json
expect_rc 2 "review with both endpoints"
run review --validate tests/data/reviews/arc-runner-create.json tests/data/reviews/arc-runner-create.json
expect_rc 2 "review with two files"
run review --validate $D/does-not-exist.json
expect_rc 2 "review of a missing file"
run review --validate --policies $D/policies-bad tests/data/reviews/arc-runner-create.json
expect_rc 2 "review with invalid policies"
has_err "$D/policies-bad/10-typo.yaml:9:5:" "review policy error position"
run review --help
expect_rc 0 "review --help"
for o in --validate --mutate --policies; do has_out -- "$o" "review --help mentions $o"; done

# ---- test: suites ------------------------------------------------------------------------

run test tests/suites
expect_rc 0 "shipped suite over policies/"
if grep -qE '^[0-9]+ passed, 0 failed$' "$tmp/out" && ! grep -q '^0 passed' "$tmp/out"; then ok; else
    bad "shipped suite summary: $out"
fi

run test $D/suites/pass
expect_rc 0 "passing suites (directory walk)"
[ "$out" = "8 passed, 0 failed" ] && ok || bad "pass summary: '$out'"
run test -v $D/suites/pass
has_line "PASS $D/suites/pass/nested/review.test.yaml: second-suite-in-one-file: a plain pod" "-v PASS line"
[ "$(lines_matching '^PASS ')" = 8 ] && ok || bad "-v: want 8 PASS lines: $out"

# every wrongly stated expectation fails the case (expected denied but allowed too)
run test $D/suites/fail/wrong.test.yaml
expect_rc 1 "failing suite"
has_line "1 passed, 8 failed" "failing suite summary"
while IFS= read -r name; do
    if grep -q "^FAIL $D/suites/fail/wrong.test.yaml:[0-9]*:[0-9]*: wrong: $name\$" "$tmp/out"; then ok; else
        bad "no FAIL line for '$name'"
    fi
done <<'EOF'
expected denied, but it is allowed
expected allowed, but it is denied
a violation missing from the expectation
an expected violation that does not happen
wrong warning count
wrong lane
wrong patch
wrong patched object
EOF
grep -q "this one is right" "$tmp/out" && bad "the right case reported as failed" || ok
has_line "  allowed: expected false, got true" "expected vs got (allowed)"
has_line "  violations: expected [ports/hostPorts], got [host-namespaces/hostNamespaces, ports/hostPorts]" "expected vs got (violations)"
has_line "  warnings: expected 0, got 1" "expected vs got (warnings)"
has_line "  lane: expected kvm, got dind" "expected vs got (lane)"
has_out '  patched: differs from expected/wrong.patched.yaml at "/spec/securityContext/seccompProfile/type": expected "Localhost", got "RuntimeDefault"' "expected vs got (patched)"

run test $D/suites/pass $D/suites/fail
expect_rc 1 "passing and failing suites together"
has_line "9 passed, 8 failed" "summary over several paths"

# bad suites: exit 2, each "# expect: LINE:COL: text" reported as FILE:LINE:COL: text
for f in $D/suites/bad/*.test.yaml; do
    run test "$f"
    expect_rc 2 "bad suite $f"
    n=0
    while IFS= read -r line; do
        case "$line" in "# expect: "*) ;; *) break ;; esac
        spec=${line#\# expect: }
        pos=${spec%%: *}
        text=${spec#*: }
        n=$((n + 1))
        if grep -F -- "$f:$pos: " "$tmp/err" | grep -qF -- "$text"; then ok; else
            bad "$f: no '$f:$pos: ...$text' in: $err"
        fi
    done <"$f"
    [ "$n" -gt 0 ] && ok || bad "$f has no '# expect:' line"
done
run test $D/suites/pass $D/suites/bad/no-cases.test.yaml
expect_rc 2 "a bad suite among good ones"
has_line "8 passed, 0 failed" "good suites still run next to a bad one"

run test
expect_rc 2 "test without PATH"
run test $D/policies-modes
expect_rc 2 "directory without suites"
has_err "no *.test.yaml files" "no suites found"
run test $D/suites/does-not-exist
expect_rc 2 "missing PATH"
run test --bogus $D/suites/pass
expect_rc 2 "test unknown option"
run test --help
expect_rc 0 "test --help"
has_out "--verbose" "test --help mentions --verbose"

echo "cli.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
