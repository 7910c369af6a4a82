# shellcheck shell=sh
# facts_target.sh REPO LOCKFILE HEAD CANDIDATE...  (deploy/facts.py's `target` section; sh -c)
#
# In the git repository REPO, resolves the first CANDIDATE that names a commit and prints
# `target=SHA`; then where that commit keeps its package-lock.json (`lockfile=app` at LOCKFILE,
# `lockfile=root` at the top, else `lockfile=none`); then, when HEAD (the commit served, empty
# when it cannot be told) is given, `lockfile_diff=0` when LOCKFILE is the same in HEAD and
# the target, else `lockfile_diff=1`. Exits 0 once a candidate resolved, 1 when none did,
# 3 when REPO cannot be entered.
repo=$1
lockfile=$2
head=$3
shift 3

cd "$repo" || exit 3
for c in "$@"; do
  t=$(git rev-parse --verify -q "$c^{commit}") || continue
  echo "target=$t"
  if git cat-file -e "$t:$lockfile" 2>/dev/null; then
    echo lockfile=app
  elif git cat-file -e "$t:package-lock.json" 2>/dev/null; then
    echo lockfile=root
  else
    echo lockfile=none
  fi
  [ -n "$head" ] || exit 0
  git diff --quiet "$head" "$t" -- "$lockfile"
  echo "lockfile_diff=$?"
  exit 0
done
exit 1
