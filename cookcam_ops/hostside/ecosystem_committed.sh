# shellcheck shell=sh
# ecosystem_committed.sh READER REPO SPEC CODE_DIR FILES CANDIDATE...
# (pm2/ecosystem.py; run with sh -c)
#
# Reads the ecosystem file of the commit a deploy is about to serve, from git, writing nothing:
# the first CANDIDATE that resolves to a commit in the repository REPO (a work tree or a bare
# APP/repo), then the first of FILES (names separated by spaces) in its directory SPEC (the
# app's directory in the commit with a trailing slash: `backend/api/`, '' at the top, `./`
# relative to a work tree's own directory), piped through READER (ecosystem_reader.js, given as
# its text: node -e) as if it lay at CODE_DIR/NAME, the directory PM2 runs the app from.
# Prints the reader's JSON line (with the commit's SHA), or an error line.
reader=$1
repo=$2
spec=$3
code_dir=$4
files=$5
shift 5

for c in "$@"; do
  s=$(git -C "$repo" rev-parse --verify -q "$c^{commit}") || continue
  # shellcheck disable=SC2086 # FILES is a list of plain names, split on purpose
  for f in $files; do
    if git -C "$repo" cat-file -e "$s:$spec$f" 2>/dev/null; then
      git -C "$repo" show "$s:$spec$f" | node -e "$reader" "${code_dir%/}/$f" "$s"
      exit 0
    fi
  done
  # shellcheck disable=SC2086
  set -- $files
  printf '{"error":"no %s (.cjs, .json) in the commit"}\n' "$1"
  exit 0
done
echo '{"error":"the target does not resolve to a commit on the host"}'
