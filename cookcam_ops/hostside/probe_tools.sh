# The host probe's toolchain section (remote/probe.py): lists `cand=SOURCE|DIR| TOOLS...` for
# every place node/npm/pm2 may live, in order of preference (the directories given as
# arguments first: ssh.path), and `on_path.TOOL=PATH` for what the session's PATH finds.
# Read only.
cand() { [ -d "$2" ] || return 0; h=''; for t in node npm pm2; do [ -x "$2/$t" ] && h="$h $t"; done
printf 'cand=%s|%s|%s\n' "$1" "$2" "$h"; }
printf 'path=%s\n' "$PATH"
for t in node npm pm2; do printf 'on_path.%s=%s\n' "$t" "$(command -v "$t" 2>/dev/null)"; done
for d in "$@"; do cand setting "$d"; done
P=$(head -c 20 "${PM2_HOME:-$HOME/.pm2}/pm2.pid" 2>/dev/null)
if [ -n "$P" ] && kill -0 "$P" 2>/dev/null; then
  e=$(readlink "/proc/$P/exe" 2>/dev/null) && cand "pm2-daemon:$P" "${e%/*}"; fi
for d in "${NVM_DIR:-$HOME/.nvm}"/versions/node/*/bin; do cand nvm "$d"; done
cand volta "$HOME/.volta/bin"; cand asdf "$HOME/.asdf/shims"; cand /usr/local/bin /usr/local/bin
