# shellcheck shell=sh
# ecosystem_served.sh READER CODE_DIR FILES  (pm2/ecosystem.py; run with sh -c)
#
# Reads the ecosystem file the app is served from: the first of FILES (names separated by
# spaces, in order of preference) in CODE_DIR, through READER (ecosystem_reader.js, given as
# its text: node -e) as if it lay at CODE_DIR/NAME. Prints the reader's JSON line, or an error
# line when CODE_DIR holds none of FILES; exits 3 when CODE_DIR cannot be entered. Read only.
reader=$1
code_dir=$2
files=$3

cd "$code_dir" || exit 3
# shellcheck disable=SC2086 # FILES is a list of plain names, split on purpose
for f in $files; do
  if [ -f "$f" ]; then
    node -e "$reader" "${code_dir%/}/$f" '' <"$f"
    exit 0
  fi
done
# shellcheck disable=SC2086
set -- $files
printf '{"error":"no %s (.cjs, .json) in the app directory"}\n' "$1"
