#!/usr/bin/env bash
# Installs a pinned MinIO server into ~/.cache/filmroom/bin/minio (or
# $FILMROOM_CACHE/bin/minio) for the S3 test
# suites (internal/testsvc). Does nothing when that binary is already there,
# so every clone on a machine shares one build: it takes minutes on 2 cores.
#
# Why not simply `go install github.com/minio/minio@RELEASE...`:
#   * MinIO's release tags (RELEASE.YYYY-MM-DDTHH-MM-SSZ) are not semantic
#     versions; the module proxy does not resolve them by name.
#   * The proxy serves the release commit's .mod and .zip under its
#     pseudo-version, but answers 403 for its .info, which `go install
#     pkg@version` and `go mod download` insist on reading first.
# So we pin the release by the pseudo-version of its tagged commit and feed
# the Go command a one-module file proxy holding that .info (version and
# time, nothing else) plus the .mod and .zip fetched from the module proxy.
# The zip is verified against the module's published go.sum hash (written
# below), and every other dependency is verified by the checksum database as
# usual. MinIO's go.mod has no replace directives, so this is the same build
# `go install` would make.
#
#   RELEASE.2025-10-15T17-29-55Z  (last MinIO community release; the upstream
#   repository is archived and ships source only)
#   commit 9e49d5e7a648f00e26f2246f4dc28e6b07f8c84a
#   module github.com/minio/minio v0.0.0-20251015172955-9e49d5e7a648
#
# Usage: scripts/minio.sh            build if missing (several minutes on 2 cores)
#        FORCE=1 scripts/minio.sh    rebuild
set -euo pipefail

MINIO_RELEASE="RELEASE.2025-10-15T17-29-55Z"
MINIO_COMMIT="9e49d5e7a648f00e26f2246f4dc28e6b07f8c84a"
MINIO_VERSION="v0.0.0-20251015172955-9e49d5e7a648"
MINIO_TIME="2025-10-15T17:29:55Z"
MINIO_SUM="h1:6TdolSCLSs2nwm8i0PpWDqf9iX2Ty9WQK8wmr7dCnUM="
MINIO_MOD_SUM="h1:yCWDkwWO9IWpGsT4mreDDN/B/QVmK2zC666uInRAcqE="

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="${FILMROOM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/filmroom}/bin"
bin="$bindir/minio"

if [[ -x "$bin" && -z "${FORCE:-}" ]]; then
  echo "minio: already installed: $("$bin" --version 2>/dev/null | head -n1)"
  exit 0
fi

upstream="$(go env GOPROXY | tr ',|' '\n\n' | grep -E '^https?://' | head -n1)"
if [[ -z "$upstream" ]]; then
  echo "minio: GOPROXY has no HTTP(S) module proxy to fetch the MinIO source from" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/filmroom-minio-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
at="$work/proxy/github.com/minio/minio/@v"
mkdir -p "$at" "$work/mod" "$bindir"

echo "minio: fetching $MINIO_RELEASE ($MINIO_VERSION)"
curl -fsSL --retry 3 -o "$at/$MINIO_VERSION.mod" "$upstream/github.com/minio/minio/@v/$MINIO_VERSION.mod"
curl -fsSL --retry 3 -o "$at/$MINIO_VERSION.zip" "$upstream/github.com/minio/minio/@v/$MINIO_VERSION.zip"
printf '{"Version":"%s","Time":"%s"}\n' "$MINIO_VERSION" "$MINIO_TIME" > "$at/$MINIO_VERSION.info"

cat > "$work/mod/go.mod" <<MOD
module filmroom.invalid/minio-build

go 1.24.0

require github.com/minio/minio $MINIO_VERSION
MOD
cat > "$work/mod/go.sum" <<SUM
github.com/minio/minio $MINIO_VERSION $MINIO_SUM
github.com/minio/minio $MINIO_VERSION/go.mod $MINIO_MOD_SUM
SUM

echo "minio: building (several minutes on 2 cores)"
ldflags="-s -w"
ldflags+=" -X github.com/minio/minio/cmd.Version=$MINIO_TIME"
ldflags+=" -X github.com/minio/minio/cmd.ReleaseTag=$MINIO_RELEASE"
ldflags+=" -X github.com/minio/minio/cmd.CommitID=$MINIO_COMMIT"
ldflags+=" -X github.com/minio/minio/cmd.ShortCommitID=${MINIO_COMMIT:0:12}"
ldflags+=" -X github.com/minio/minio/cmd.CopyrightYear=2025"
(
  cd "$work/mod"
  GOPROXY="file://$work/proxy,$(go env GOPROXY)" GOFLAGS="-mod=mod" GOTOOLCHAIN=local \
    go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" github.com/minio/minio
)
mv "$bin.tmp" "$bin"
echo "minio: installed $bin: $("$bin" --version | head -n1)"
