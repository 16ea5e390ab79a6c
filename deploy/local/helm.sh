#!/usr/bin/env bash
# helm for the chart's tests (deploy/helm/pars), built from its Go module with this
# machine's Go toolchain: no Docker, no downloaded release binary.
#
#   deploy/local/helm.sh            build helm once, print its path
#   deploy/local/helm.sh path       the same
#   deploy/local/helm.sh version    print the built helm's version
#
# The binary goes to $PARS_LOCAL_DIR/bin/helm (default <repo>/.local/bin/helm); a
# binary already there at the pinned version is kept, so only the first call
# builds: cold, about 7 minutes of CPU, most of it compiling Kubernetes' client
# libraries (24 min of wall time on a busy 2-core machine); with Go's build
# cache warm, under a minute (docs/DESIGN-NOTES.md). Go: $GO, else `go` on
# PATH, else /usr/local/go/bin/go. Concurrent callers wait on one lock and
# build once.
set -euo pipefail

HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.22.0

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd -P)
LOCAL_DIR=${PARS_LOCAL_DIR:-$REPO_DIR/.local}
BIN_DIR=$LOCAL_DIR/bin
HELM=$BIN_DIR/helm

die() {
  echo "helm: $*" >&2
  exit 1
}

find_go() {
  if [[ -n ${GO:-} ]]; then
    echo "$GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    die "no Go toolchain (set GO=/path/to/go)"
  fi
}

STAMP=$BIN_DIR/.helm.build
# What a build is made from; a binary built otherwise (another pin, another recipe) is built again.
RECIPE="$HELM_MODULE@$HELM_VERSION recipe 2"

# True when $HELM exists, was built from $RECIPE and says it is the pinned version.
is_current() {
  [[ -x $HELM && -f $STAMP && $(<"$STAMP") == "$RECIPE" ]] &&
    [[ $("$HELM" version --template '{{.Version}}' 2>/dev/null) == "$HELM_VERSION" ]]
}

# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`; a chart's kubeVersion is
# checked against it): helm's Makefile stamps the one after its client-go module (v0.37.x: 1.37); unstamped it
# would be 1.20.
kube_version() {
  local go=$1 gomod client
  gomod=$("$go" mod download -json "$HELM_MODULE@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $gomod ]] || die "no go.mod for $HELM_MODULE@$HELM_VERSION"
  client=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$gomod")
  [[ $client =~ ^v0\.([0-9]+)\. ]] || die "cannot read k8s.io/client-go's version from $gomod"
  echo "1 ${BASH_REMATCH[1]}"
}

build() {
  local go tmp started major minor flags
  go=$(find_go)
  rm -rf "$BIN_DIR"/.helm-build.* # what a build that was killed left (we hold the lock: none runs now)
  tmp=$(mktemp -d "$BIN_DIR/.helm-build.XXXXXX")
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  started=$SECONDS
  echo "helm: building $HELM_MODULE@$HELM_VERSION with $($go version | cut -d' ' -f3) (first time only)" >&2
  read -r major minor <<<"$(kube_version "$go")"
  # Stamped as helm's own Makefile does: `helm version` tells the pin, and the Kubernetes version is client-go's.
  flags="-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION -X $HELM_MODULE/internal/version.metadata="
  for pkg in pkg/lint/rules pkg/chartutil; do
    flags+=" -X $HELM_MODULE/$pkg.k8sVersionMajor=$major -X $HELM_MODULE/$pkg.k8sVersionMinor=$minor"
  done
  GOBIN=$tmp CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$go" install -ldflags "$flags" \
    "$HELM_MODULE/cmd/helm@$HELM_VERSION" >&2 || die "go install failed"
  mv -f "$tmp/helm" "$HELM"
  echo "$RECIPE" >"$STAMP"
  echo "helm: built $HELM in $((SECONDS - started)) s (Kubernetes $major.$minor assumed without a cluster)" >&2
}

ensure() {
  mkdir -p "$BIN_DIR"
  is_current && return 0
  # One builder at a time; the others find the binary when the lock frees.
  exec 9>"$BIN_DIR/.helm.lock"
  flock 9
  is_current || build
  is_current || die "$HELM does not report $HELM_VERSION"
}

case ${1:-path} in
path)
  ensure
  echo "$HELM"
  ;;
version)
  ensure
  "$HELM" version --short
  ;;
*) die "usage: $0 [path|version]" ;;
esac
