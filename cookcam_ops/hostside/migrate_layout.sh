# shellcheck shell=sh
# migrate_layout.sh APP ENV_FILE TOP STAGE  (deploy/migrate.py's `layout_script`; run with sh -c)
#
# What migrate-to-releases needs to know about a host, read only, as key=value lines:
#   layout=   releases (APP/current is a symlink beside APP/repo), in-place (TOP is a git
#             checkout) or missing (neither)
# and for a checkout:
#   sha=      the commit HEAD names (empty when there is none)
#   dirty=    how many tracked files are modified in TOP
#   missing=  what the first release copies from APP and APP lacks (dist, node_modules,
#             ENV_FILE), space-separated
#   time=     the host's clock, UTC, YYYYmmddHHMMSS (the first release's name)
#   leftover=1 when STAGE (an earlier run's staging directory) exists
# APP is the app directory (TOP itself, or a directory inside it: a monorepo). Always exits 0.
app=$1
env_file=$2
top=$3
stage=$4

cd "$app" 2>/dev/null || { echo layout=missing; exit 0; }
if [ -L current ] && [ -d repo ]; then
  echo layout=releases
  exit 0
fi
[ -d "$top/.git" ] || { echo layout=missing; exit 0; }
echo layout=in-place
printf 'sha=%s\n' "$(git rev-parse --verify -q 'HEAD^{commit}')"
printf 'dirty=%s\n' "$(git -C "$top" status --porcelain --untracked-files=no | wc -l)"
missing=''
for p in dist node_modules "$env_file"; do
  [ -e "$p" ] || missing="$missing $p"
done
printf 'missing=%s\n' "$missing"
printf 'time=%s\n' "$(date -u +%Y%m%d%H%M%S)"
if [ -e "$stage" ]; then echo leftover=1; fi
exit 0
