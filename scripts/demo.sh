#!/usr/bin/env bash
# `make demo`: a full rehearsal on the built-in sandbox — real sshd, git, npm and PM2 on loopback.
# Brings a 2-host sandbox up, checks it, deploys a release, verifies it (smoke, graceful drain
# under load), deploys a broken release twice (stopped before the switch by the build test; then,
# without that test, failing after the switch and rolled back automatically), rolls back by hand,
# moves the hosts to the releases strategy and deploys and rolls back there,
# shows the history, and takes the sandbox down again (KEEP=1 leaves it running).
set -uo pipefail
cd "$(dirname "$0")/.."

DIR=${SANDBOX_DIR:-.sandbox}
OPS=(python3 -m cookcam_ops --config "$DIR/ops.yaml")
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
expect() {  # expect CODE command...: run it and check its exit code
  local want=$1; shift
  "$@"; local got=$?
  if [[ $got -ne $want ]]; then
    echo "demo: '$*' exited $got, expected $want" >&2
    exit 1
  fi
}

if [[ ${KEEP:-0} != 1 ]]; then
  trap 'step "sandbox down"; python3 -m cookcam_ops sandbox down --dir "$DIR"' EXIT
fi

step "sandbox up: 2 hosts shaped like the seed's server (a monorepo checkout, the API in backend/api, node from nvm and not on the ssh PATH; sshd + PM2 cluster each), a git origin, a Supabase auth stand-in"
expect 0 python3 -m cookcam_ops sandbox up --dir "$DIR" --hosts 2
expect 0 python3 -m cookcam_ops sandbox status --dir "$DIR"
python3 scripts/demo_configs.py "$DIR"

step "pre-deploy checklist (local .env and every host over SSH; toolchain: where node/npm/pm2 were found)"
expect 0 "${OPS[@]}" checklist sandbox

step "smoke: health, Socket.IO auth (valid, invalid, missing), error envelope, auth rate"
expect 0 "${OPS[@]}" smoke sandbox --connections 50

step "deploy a new release to both hosts"
python3 -m cookcam_ops sandbox change release --dir "$DIR" >/dev/null
expect 0 "${OPS[@]}" deploy sandbox --yes
expect 0 "${OPS[@]}" status sandbox

step "graceful drain: pm2 reload under keep-alive load and open Socket.IO clients"
expect 0 "${OPS[@]}" drain sandbox --host host1 --via reload --duration 8

step "deploy a release whose /health answers 503: the build test stops it before the switch (exit 1, nothing served changed)"
python3 -m cookcam_ops sandbox change broken-health --dir "$DIR" >/dev/null
expect 1 "${OPS[@]}" deploy sandbox --yes

step "the same release with a playbook that has no build test: health fails after the switch and the host rolls back by itself (exit 1)"
expect 1 python3 -m cookcam_ops --config "$DIR/ops-no-build-test.yaml" deploy sandbox --yes

step "roll back by hand to the release before the current one"
expect 0 "${OPS[@]}" rollback sandbox --yes
expect 0 "${OPS[@]}" smoke sandbox --connections 20

step "strategy: releases — move both hosts to a releases layout under the running API"
expect 0 "${OPS[@]}" migrate-to-releases sandbox --yes
REL=(python3 -m cookcam_ops --config "$DIR/ops-releases.yaml")

step "deploy a release beside the served one (own node_modules, dist and .env), switch current"
python3 -m cookcam_ops sandbox change release --dir "$DIR" >/dev/null
expect 0 "${REL[@]}" deploy sandbox --yes
expect 0 "${REL[@]}" status sandbox

step "roll back in seconds: switch current back and reload, no npm, no build"
expect 0 "${REL[@]}" rollback sandbox --yes

step "history: every deploy, rollback and migration, per host"
expect 0 "${OPS[@]}" history sandbox

step "rehearsal complete"
