# shellcheck shell=sh
# facts_in_place.sh APP_PATH REPO_PATH  (layout.InPlace.facts_command; run with sh -c)
#
# The deploy facts' `git` section for an in-place host, read only. APP_PATH is the app's
# directory (a checkout's top, or a directory in it), REPO_PATH the top of its work tree.
# Prints key=value lines: head= (the commit checked out; empty when none), branch= (empty on a
# detached HEAD), dirty= (how many tracked files changed), node_modules= (1 when the app has
# them, else 0). Exits 3 when APP_PATH cannot be entered, 4 after `layout=releases` when it
# holds the releases layout instead (APP/current and APP/repo).
app=$1
repo=$2

cd "$app" || exit 3
if [ -L current ] && [ -d repo ]; then
  echo layout=releases
  exit 4
fi
printf 'head=%s\n' "$(git rev-parse --verify -q 'HEAD^{commit}')"
printf 'branch=%s\n' "$(git symbolic-ref -q --short HEAD)"
printf 'dirty=%s\n' "$(git -C "$repo" status --porcelain --untracked-files=no | wc -l)"
if [ -d node_modules ]; then echo node_modules=1; else echo node_modules=0; fi
