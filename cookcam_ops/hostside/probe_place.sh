# The host probe's place section (remote/probe.py): the work tree APP ($1) is in, the app's
# directory in the repository, the tool's state directory and the first .nvmrc. With $2 = 1 a
# legacy state directory inside the work tree (APP.ops) is moved beside the checkout (adopted);
# with 0 nothing changes (init --from-host).
A=$1; top=''; prefix=''
if [ -d "$A" ]; then top=$(cd "$A" && git rev-parse --show-toplevel 2>/dev/null)
  prefix=$(cd "$A" && git rev-parse --show-prefix 2>/dev/null); fi
if [ -L "$A/current" ] && [ -d "$A/repo" ]; then
  sub=$(git --git-dir="$A/repo" config --get cookcam-ops.subdir 2>/dev/null)
else sub=${prefix%/}; fi
printf 'top=%s\nsubdir=%s\n' "$top" "$sub"
legacy="$A.ops"; state="$legacy"
if [ -n "$top" ] && [ -n "$prefix" ]; then state="$top.ops"
  if [ -d "$legacy/lock" ]; then state="$legacy"
  elif [ "$2" = 1 ] && [ -d "$legacy" ] && [ ! -e "$state" ]; then
    if mv -T "$legacy" "$state" 2>/dev/null; then echo "adopted=$legacy"; else state="$legacy"; fi
  fi
fi
printf 'state=%s\n' "$state"
for d in "$A" "$A/current" "$top"; do
  if [ -z "$d" ] || [ ! -f "$d/.nvmrc" ]; then continue; fi
  printf 'nvmrc=%s\n' "$(head -c 64 "$d/.nvmrc" | head -n 1)"; break; done
