#!/usr/bin/env bash
# What the sandbox and the tests need besides Python: OpenSSH (sshd, ssh, ssh-keygen), git,
# Node.js >= 18 with npm, and tests/node's packages. On Debian as root it installs what is missing;
# otherwise it says exactly what to install and exits 1. Idempotent, and silent when all is there.
# ShellCheck (the unit suite lints cookcam_ops/hostside/*.sh with it) is optional: installed with
# apt-get when apt knows it, else the test says it was skipped.
# (`pip install -e '.[dev]'` is the Makefile's job, not this script's.)
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_MIN=18
say() { printf 'ensure-deps: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
have_sshd() { [[ -x /usr/sbin/sshd ]] || have sshd; }
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

missing_packages() {
  local pkgs=()
  have_sshd || pkgs+=(openssh-server)
  { have ssh && have ssh-keygen; } || pkgs+=(openssh-client)
  have git || pkgs+=(git)
  have ps || pkgs+=(procps)  # the e2e tests look for leftover processes with ps
  if ! have node || (( $(node_major) < NODE_MIN )); then pkgs+=(nodejs); fi
  have npm || pkgs+=(npm)
  echo "${pkgs[@]+"${pkgs[@]}"}"
}

apt_install() {
  # Keep package scripts from starting services (e.g. a system sshd on port 22) while installing.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  } >/tmp/ensure-deps-apt.log 2>&1 || rc=$?
  if (( made_policy )); then rm -f "$policy"; fi
  if (( rc != 0 )); then
    say "apt-get install $* failed (exit $rc); see /tmp/ensure-deps-apt.log"
    return 1
  fi
}

read -r -a pkgs <<<"$(missing_packages)"
if (( ${#pkgs[@]} > 0 )); then
  if [[ $(id -u) -eq 0 ]] && have apt-get; then
    say "installing ${pkgs[*]} with apt-get"
    apt_install "${pkgs[@]}" || exit 1
    read -r -a pkgs <<<"$(missing_packages)"
  fi
  if (( ${#pkgs[@]} > 0 )); then
    say "missing: ${pkgs[*]}"
    say "install them, e.g. \`sudo apt-get install -y ${pkgs[*]}\` on Debian/Ubuntu" \
        "(Node.js must be ${NODE_MIN} or later: https://nodejs.org or your OS's packages)"
    exit 1
  fi
fi

if ! have shellcheck && [[ $(id -u) -eq 0 ]] && have apt-get \
    && apt-cache show shellcheck >/dev/null 2>&1; then
  say "installing shellcheck with apt-get"
  apt_install shellcheck || say "going on without shellcheck"
fi

# tests/node: the real Node packages the Python tests run against (dotenv, socket.io-client).
if [[ -f tests/node/package.json ]]; then
  installed=tests/node/node_modules/.package-lock.json
  if [[ ! -f $installed || tests/node/package-lock.json -nt $installed
        || tests/node/package.json -nt $installed ]]; then
    log=$(mktemp)
    if ! npm ci --prefix tests/node --prefer-offline --no-audit --no-fund \
         --no-update-notifier --loglevel=error >"$log" 2>&1; then
      say "npm ci --prefix tests/node failed:"
      tail -n 20 "$log" >&2
      rm -f "$log"
      exit 1
    fi
    rm -f "$log"
  fi
fi
