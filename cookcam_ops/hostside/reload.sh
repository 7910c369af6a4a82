# shellcheck shell=sh
# reload.sh LOG RETRIES CURRENT RUN  (deploy/scripts.py's `reload` built-in; run with sh -c)
#
# Runs the shell command RUN (pm2 reload/restart/scale, or a handover) with its output in LOG,
# again up to RETRIES times while it fails because PM2 says "process already started" (PM2
# refuses a reload while it is itself restarting a crashed worker: a rollback right after a
# crash loop meets that), 2 s apart. Then prints RUN's last 3 lines, `@@current=PATH` (where
# the link CURRENT resolves, when CURRENT is not empty) and `@@reload rc=CODE t0=MS` (RUN's
# exit code, and the host's clock in ms when the reload started, as node reads it). Exits
# with RUN's code.
log=$1
retries=$2
current=$3
run=$4

t0=$(node -e 'console.log(Date.now())')
n=0
while :; do
  sh -c "$run" >"$log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$n" -lt "$retries" ] && grep -q 'process already started' "$log"
  then
    n=$((n + 1))
    sleep 2
    continue
  fi
  break
done
tail -n 3 "$log"
if [ -n "$current" ]; then
  echo "@@current=$(readlink -f "$current")"
fi
echo "@@reload rc=$rc t0=$t0"
exit "$rc"
