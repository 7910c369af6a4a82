# shellcheck shell=sh
# lock_acquire.sh OPS_PATH RUN_ID INFO CAP ACQUIRED HELD FAILED  (deploy/lock.py; run with sh -c)
#
# Takes the deploy lock OPS_PATH/lock whole or not at all: writes INFO (the claim's JSON, one
# line) to info.json in a directory of its own, OPS_PATH/.lock-RUN_ID, reads it back (a full
# disk may have cut it short), then renames that directory into place (`mv -T` onto a name that
# does not exist is atomic; tried 3 times unless the lock appeared meanwhile). Prints ACQUIRED
# and exits 0 (so `lock_acquire.sh ... && NEXT` runs NEXT only under the lock); or HELD and the
# holder's info.json (at most CAP bytes), exit 2; or FAILED and `df` (blocks, then inodes) of
# the nearest existing directory at or above OPS_PATH, exit 1. Its own temporary directory is
# always removed.
ops=$1
run_id=$2
info=$3
cap=$4
acquired=$5
held=$6
failed=$7

t="$ops/.lock-$run_id"
l="$ops/lock"
rm -rf "$t"
if mkdir -p "$ops" && mkdir "$t" && printf '%s\n' "$info" >"$t/info.json" &&
  [ "$(cat "$t/info.json")" = "$info" ]; then
  for _ in 1 2 3; do
    if mv -T "$t" "$l" 2>/dev/null; then
      echo "$acquired"
      exit 0
    fi
    [ -e "$l" ] && break
  done
fi
rm -rf "$t"
if [ -e "$l" ]; then
  echo "$held"
  head -c "$cap" "$l/info.json" 2>/dev/null
  exit 2
fi
echo "$failed"
p=$ops
while [ ! -e "$p" ] && [ "$p" != / ]; do
  p=$(dirname "$p")
done
df -Pk "$p" 2>/dev/null | tail -n 1
df -Pi "$p" 2>/dev/null | tail -n 1
exit 1
