# shellcheck shell=sh
# pm2_startup_units.sh MAX DIR...  (pm2/reboot.py; run with sh -c)
#
# Whether something brings PM2 back at boot (`pm2 startup` writes such a unit; `pm2 resurrect`
# then starts the saved process list). Prints `home|PATH` (this user's PM2_HOME, resolved), then
# for each of at most MAX files in the DIRs (systemd, init.d, rc.d) that mention both
# `resurrect` and `pm2`: `unit|PATH|ITS PM2_HOME|1 if enabled, else 0`, and `unit|crontab
# @reboot||1` for a crontab line that does it. Only paths and PM2_HOME values print. Read only.
max=$1
shift

h=${PM2_HOME:-$HOME/.pm2}
printf 'home|%s\n' "$(readlink -f "$h" 2>/dev/null || echo "$h")"
for d in "$@"; do
  grep -ls -- resurrect "$d"/* 2>/dev/null
done | head -n "$max" | while read -r f; do
  grep -qs pm2 "$f" || continue
  home=$(sed -n "s/.*PM2_HOME=[\"']\{0,1\}\([^\"' ]*\).*/\1/p" "$f" | head -n 1)
  n=${f##*/}
  on=1
  case "$f" in
    */systemd/system/*)
      on=0
      ls /etc/systemd/system/*.wants/"$n" >/dev/null 2>&1 && on=1
      ;;
    /etc/init.d/*)
      on=0
      ls /etc/rc[2345].d/S*"$n" >/dev/null 2>&1 && on=1
      ;;
  esac
  printf 'unit|%s|%s|%s\n' "$f" "$home" "$on"
done
if crontab -l 2>/dev/null | grep -qs '^@reboot.*pm2.*resurrect'; then
  echo 'unit|crontab @reboot||1'
fi
exit 0
