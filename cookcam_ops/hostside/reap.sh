# shellcheck shell=sh
# reap.sh PID_FILE RUN_ID ROUNDS  (deploy/scripts.py's `reap`; run with sh -c)
#
# Stops what a run left running on the host after its connection was lost. PID_FILE holds
# "PID RUN_ID" of the last step's process group (written by the step wrapper); when it names
# another run, nothing is done. Waits up to ROUNDS x 0.5 s for the group to end by itself
# (0 for steps that are safe to kill), then sends it TERM and, 1 s later, KILL, and removes
# PID_FILE. Always exits 0.
pid_file=$1
run_id=$2
rounds=$3

# shellcheck disable=SC2046 # split on purpose: the file's two words become $1 and $2
set -- $(cat "$pid_file" 2>/dev/null)
[ "${2:-}" = "$run_id" ] || exit 0
p=$1
i=0
while [ "$i" -lt "$rounds" ] && kill -s 0 -- "-$p" 2>/dev/null; do
  sleep 0.5
  i=$((i + 1))
done
kill -s TERM -- "-$p" 2>/dev/null
sleep 1
kill -s KILL -- "-$p" 2>/dev/null
rm -f "$pid_file"
exit 0
