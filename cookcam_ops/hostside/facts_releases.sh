# shellcheck shell=sh
# facts_releases.sh APP_PATH  (layout.Releases.facts_command; run with sh -c)
#
# The deploy facts' `git` section for a host in the releases layout, read only. APP_PATH is
# the layout's root (APP/current -> releases/NAME, APP/repo). Prints key=value lines:
# layout=releases, head= (current/REVISION: the commit served; empty when missing),
# current= (where the link points), time= (the host's UTC clock, YYYYmmddHHMMSS: the next
# release's name), dirty=0, node_modules= (1 when the served release has them, else 0).
# Exits 4 after `layout=in-place` when APP_PATH is a git checkout instead, 3 when it is
# neither or cannot be entered.
app=$1

cd "$app" || exit 3
if [ -L current ] && [ -d repo ]; then
  echo layout=releases
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo layout=in-place
  exit 4
else
  exit 3
fi
printf 'head=%s\n' "$(head -c 64 current/REVISION 2>/dev/null)"
printf 'current=%s\n' "$(readlink current)"
printf 'time=%s\n' "$(date -u +%Y%m%d%H%M%S)"
echo dirty=0
if [ -d current/node_modules ]; then echo node_modules=1; else echo node_modules=0; fi
