#!/usr/bin/env bash
# image.sh — the Dockerfile against the binary (no Docker engine needed):
#  * every shared library `ldd lanegate` loads comes from a package that the
#    runtime stage installs, or that those packages pull in (Depends, from
#    dpkg's own records); every library lanegate links directly (NEEDED) is
#    listed by name, and libc6 comes with the base image;
#  * the runtime stage lists nothing lanegate does not link (built against: the
#    Makefile's pkg-config libraries);
#  * the image contract: multi-stage bookworm -> bookworm-slim, USER 65532,
#    ENTRYPOINT ["lanegate", "serve"], policies at /etc/lanegate/policies, certs
#    at /etc/lanegate/tls; .dockerignore keeps keys and build output out;
#  * `make install PREFIX DESTDIR` installs binary, man page and policies.
set -uo pipefail
LANEGATE=${LANEGATE:-$PWD/build/lanegate}
T=$(mktemp -d /tmp/lg-image-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! command -v dpkg >/dev/null 2>&1 || ! command -v ldd >/dev/null 2>&1; then
  echo "note: not a Debian system (no dpkg/ldd): image checks skipped"; exit 0
fi

# The image holds a plain build (`make build/lanegate`): a sanitizer build
# (`make asan`) links libasan/libubsan, so the library checks use build/lanegate.
sanitized() { readelf -d "$1" 2>/dev/null | grep -qE 'NEEDED.*lib(a|ub|t)san'; }
BIN=$LANEGATE
if sanitized "$BIN"; then
  if [ -x build/lanegate ] && ! sanitized build/lanegate; then BIN=$PWD/build/lanegate
  else BIN=; echo "note: $LANEGATE is a sanitizer build and build/lanegate is missing: library checks skipped"; fi
fi

# ---- the runtime stage's package list -------------------------------------------
# The last stage, from its FROM line; its RUN lines joined over backslashes.
runtime=$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' Dockerfile)
runtime_from=$(printf '%s\n' "$runtime" | head -1)
listed=$(printf '%s\n' "$runtime" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
  grep -E '^RUN .*apt-get( -[^ ]+)* install' |
  sed -E 's/.*apt-get( -[^ ]+)* install//; s/&&.*//' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
[ -n "$listed" ] && ok || bad "no apt-get install in the runtime stage"
echo "runtime packages: $(echo $listed)"

pkg_of() { # the installed package that owns a library file (usrmerge-aware)
  local f=$1 cand
  for cand in "$f" "$(realpath "$f" 2>/dev/null)" "${f#/usr}" "/usr$f"; do
    [ -n "$cand" ] || continue
    dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  cand=$(realpath "$f" 2>/dev/null) && dpkg -S "${cand#/usr}" 2>/dev/null | head -1 | cut -d: -f1
}

# Depends/Pre-Depends closure of the listed packages, as dpkg recorded them.
closure=" $(echo $listed) "
queue=$listed
while [ -n "$queue" ]; do
  next=
  for p in $queue; do
    deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null) || { bad "$p is not installed here, cannot follow its dependencies"; continue; }
    # "a (>= 1) | b, c:any" -> installed alternative names
    for alt in $(printf '%s' "$deps" | tr ',' '\n' | sed -E 's/\([^)]*\)//g; s/:any//g; s/ //g'); do
      chosen=
      for a in ${alt//|/ }; do
        if dpkg-query -W -f='${Status}' "$a" 2>/dev/null | grep -q "ok installed"; then chosen=$a; break; fi
      done
      if [ -n "$chosen" ] && [[ $closure != *" $chosen "* ]]; then
        closure="$closure$chosen "; next="$next $chosen"
      fi
    done
  done
  queue=$next
done

# ---- ldd: every loaded library is covered ------------------------------------------
if [ -n "$BIN" ]; then
  ldd "$BIN" >"$T/ldd" 2>&1 || { bad "ldd $BIN failed"; cat "$T/ldd"; }
  while read -r lib path; do
    [ -n "$path" ] || continue
    pkg=$(pkg_of "$path")
    if [ -z "$pkg" ]; then bad "$lib ($path) belongs to no Debian package"; continue; fi
    if [[ $closure == *" $pkg "* ]]; then ok; else bad "$lib comes from $pkg, which the runtime stage does not install"; fi
  done < <(awk '/=>/ {print $1, $3} !/=>/ && $1 ~ /^\// {print $1, $1}' "$T/ldd")

  # NEEDED libraries are listed by name (libc6 comes with every Debian image)
  needed=$(readelf -d "$BIN" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
  for lib in $needed; do
    path=$(awk -v l="$lib" '$1 == l && /=>/ {print $3}' "$T/ldd")
    pkg=$(pkg_of "$path")
    if [ "$pkg" = libc6 ] || [[ " $(echo $listed) " == *" $pkg "* ]]; then ok
    else bad "lanegate links $lib directly: list its package $pkg in the runtime stage"; fi
  done

  # ---- nothing extra: each listed package is a library lanegate is built against ----
  linked_pkgs=
  for flag in $(pkg-config --libs libmicrohttpd gnutls jansson yaml-0.1 2>/dev/null); do
    case $flag in -l*) ;; *) continue ;; esac
    so=$(cc -print-file-name="lib${flag#-l}.so")
    [ -e "$so" ] && linked_pkgs="$linked_pkgs $(pkg_of "$(realpath "$so")")"
  done
  for lib in $needed; do linked_pkgs="$linked_pkgs $(pkg_of "$(awk -v l="$lib" '$1 == l && /=>/ {print $3}' "$T/ldd")")"; done
  for p in $listed; do
    [[ " $linked_pkgs " == *" $p "* ]] && ok || bad "runtime stage installs $p, which lanegate does not link"
  done
fi

# ---- the image contract ----------------------------------------------------------
grep -qE '^FROM debian:bookworm AS build' Dockerfile && ok || bad "build stage FROM debian:bookworm AS build"
[[ $runtime_from == "FROM debian:bookworm-slim" ]] && ok || bad "runtime stage is debian:bookworm-slim (got: $runtime_from)"
printf '%s\n' "$runtime" | grep -qE '^USER 65532(:65532)?$' && ok || bad "runtime USER 65532"
printf '%s\n' "$runtime" | grep -qF 'ENTRYPOINT ["lanegate", "serve"]' && ok || bad 'ENTRYPOINT ["lanegate", "serve"]'
printf '%s\n' "$runtime" | grep -qE '^COPY .* /etc/lanegate/policies/?$' && ok || bad "policies copied to /etc/lanegate/policies"
printf '%s\n' "$runtime" | grep -qE '/etc/lanegate/tls' && ok || bad "/etc/lanegate/tls in the image"
printf '%s\n' "$runtime" | grep -qE '^COPY --from=build .*/bin/lanegate /usr/local/bin/lanegate$' && ok || bad "binary at /usr/local/bin/lanegate (on PATH for the ENTRYPOINT)"
printf '%s\n' "$runtime" | grep -q -- '-dev' && bad "runtime stage installs a -dev package" || ok
# every file the build stage COPYs exists and is not excluded by .dockerignore
for src in $(sed -nE 's/^COPY +([^-][^ ]*( [^ ]+)*) [^ ]+$/\1/p' Dockerfile | grep -v -- '--from'); do
  [ -e "$src" ] && ok || bad "Dockerfile COPYs $src, which does not exist"
  grep -qxF "!${src%/}/" .dockerignore || grep -qxF "!${src%/}" .dockerignore && ok || bad ".dockerignore does not let $src in"
done
for pat in '\*\*/\*.key' '^\*$'; do
  grep -qE "$pat" .dockerignore && ok || bad ".dockerignore lacks $pat"
done

# ---- make install ----------------------------------------------------------------
bin_rel=$(realpath --relative-to="$PWD" "$LANEGATE")
if (unset MAKEFLAGS MAKELEVEL; make --no-print-directory -s install BUILD="$(dirname "$bin_rel")" \
      PREFIX=/opt/lg DESTDIR="$T/root") >"$T/install.log" 2>&1; then
  ok
  cmp -s "$LANEGATE" "$T/root/opt/lg/bin/lanegate" && ok || bad "make install did not install the built binary as is"
  [ "$(stat -c %a "$T/root/opt/lg/bin/lanegate")" = 755 ] && ok || bad "installed binary mode"
  [ -f "$T/root/opt/lg/share/man/man1/lanegate.1" ] && ok || bad "man page not installed"
  for f in policies/*.yaml; do
    cmp -s "$f" "$T/root/opt/lg/share/lanegate/policies/$(basename "$f")" && ok || bad "policy $f not installed"
  done
  [ ! -e "$T/root/opt/lg/share/lanegate/policies/Kustomization" ] && ok || bad "install copied policies/Kustomization"
  (unset MAKEFLAGS MAKELEVEL; make --no-print-directory -s uninstall PREFIX=/opt/lg DESTDIR="$T/root") >/dev/null 2>&1
  left=$(find "$T/root" -type f | wc -l)
  [ "$left" = 0 ] && ok || bad "make uninstall left $left files"
else
  bad "make install failed"; cat "$T/install.log"
fi

# the man page renders without warnings and covers every subcommand
if command -v groff >/dev/null 2>&1; then
  warn=$(groff -man -Tutf8 -ww -z lanegate.1 2>&1)
  [ -z "$warn" ] && ok || bad "groff warnings in lanegate.1: $warn"
fi
for sub in check review test lint serve certs version; do
  grep -qE "^\.SS .*\b$sub\b" lanegate.1 && ok || bad "lanegate.1 has no section for '$sub'"
done

echo "image: $pass passed, $fail failed"
[ "$fail" = 0 ]
