#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it through executable_path: Playwright's own
# browser download cannot work here). Installed with apt when missing; prints the binary's path.
set -euo pipefail

found="${PARS_CHROMIUM:-$(command -v chromium || true)}"
if [[ -z "$found" ]]; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "chromium is missing and cannot be installed here (needs root and apt-get): set PARS_CHROMIUM" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  found=$(command -v chromium)
fi
echo "$found"
