# error_log_lines.sh LIMIT PATH OFFSET [PATH OFFSET ...]  (run with sh -c on the host)
#
# For each PATH OFFSET pair, print one line "SIZE LINES PATH": the file's size now and the
# newlines it gained past byte OFFSET, reading at most LIMIT bytes of them. OFFSET -1 only
# measures SIZE (the first look at a log). A file now shorter than OFFSET was rotated or
# truncated: it is counted from its start. A missing file prints "0 0 PATH". Read only.
limit=$1
shift
while [ "$#" -ge 2 ]; do
  f=$1
  off=$2
  shift 2
  if [ ! -f "$f" ]; then
    printf '0 0 %s\n' "$f"
    continue
  fi
  size=$(wc -c < "$f")
  if [ "$off" -lt 0 ]; then
    printf '%s 0 %s\n' "$size" "$f"
    continue
  fi
  if [ "$size" -lt "$off" ]; then
    off=0
  fi
  len=$((size - off))
  if [ "$len" -gt "$limit" ]; then
    len=$limit
  fi
  n=$(tail -c "+$((off + 1))" "$f" | head -c "$len" | wc -l)
  printf '%s %s %s\n' "$size" "$n" "$f"
done
