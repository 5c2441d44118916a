#!/usr/bin/env bash
# Prints the path of a FerretDB binary (MongoDB wire protocol on embedded SQLite)
# for the tests, building it once from the Go module proxy into a cache directory:
#   ${FERRETDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-im/ferretdb-v1.24.2}/ferretdb
# Only the path goes to stdout; progress and errors go to stderr.
#
# Why not a bare `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
# that builds, but the binary panics at start-up ("Invalid build/version/version.txt
# file content"), because FerretDB's build/version package needs a generated
# version.txt that is not in the module zip (upstream issue FerretDB#2982). So this
# script downloads the same module (checksum-verified by the go command), copies it,
# writes version.txt/commit.txt the way FerretDB's `task gen-version` would, and runs
# `go install` there. The SQLite backend is built in by default (the build tag
# ferretdb_no_sqlite would remove it); no tags are needed.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB

cache_dir="${FERRETDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-im/ferretdb-$FERRETDB_VERSION}"
bin="$cache_dir/ferretdb"

die() {
  echo "ferretdb.sh: error: $*" >&2
  exit 1
}

usable() {
  [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1
}

if usable; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null 2>&1 ||
  die "'go' is not on PATH: Go >= 1.24 is needed to build FerretDB $FERRETDB_VERSION (or point FERRETDB_BIN at a ferretdb binary)"

mkdir -p "$cache_dir" || die "cannot create cache directory $cache_dir"

# One build at a time (several test processes may ask at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_dir/.build.lock"
  flock 9
  if usable; then
    echo "$bin"
    exit 0
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
staging="$cache_dir/.staging.$$"
cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work" "$staging"
}
trap cleanup EXIT

echo "ferretdb.sh: building FerretDB $FERRETDB_VERSION into $cache_dir (a few minutes the first time)" >&2
started=$SECONDS

# Outside any module, so the user's go.work / go.mod cannot interfere.
cd "$work"
export GOWORK=off GOFLAGS=-buildvcs=false

# (with -json, go reports a download error in the JSON on stdout)
info="$(go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION")" ||
  die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION failed (is the Go module proxy reachable?): $(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')"
src="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)"
commit="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p' | head -n 1)"
[ -n "$src" ] && [ -d "$src" ] || die "go mod download did not report the module directory"

cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
printf '%s\n' "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
[ -z "$commit" ] || printf '%s\n' "$commit" >"$work/src/build/version/commit.txt"
printf '%s\n' "go-install" >"$work/src/build/version/package.txt"

(cd "$work/src" && GOBIN="$staging" go install -trimpath ./cmd/ferretdb) >&2 ||
  die "building FerretDB $FERRETDB_VERSION failed (see the go output above)"

"$staging/ferretdb" --version >/dev/null 2>&1 ||
  die "the freshly built $staging/ferretdb does not run: $("$staging/ferretdb" --version 2>&1 | head -n 3)"

mv -f "$staging/ferretdb" "$bin"
echo "ferretdb.sh: built $bin in $((SECONDS - started))s" >&2
echo "$bin"
