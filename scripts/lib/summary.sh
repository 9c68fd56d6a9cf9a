# Shared by scripts/test.sh and scripts/test_vm.sh (source it, do not run it):
# turns a deno or bun test log into "passed failed skipped" counts.

# test_counts RUNTIME LOG RC
#   RUNTIME: deno or bun; LOG: the runner's combined output; RC: its exit
#   status. Prints "P F S". A runner that died before its summary counts as
#   one failure, and so does a non-zero exit whose summary shows none.
test_counts() {
  local runtime=$1 log=$2 rc=$3 line p f s
  if [ "$runtime" = deno ]; then
    # Deno: "ok | 12 passed | 0 failed | 2 ignored (1s)"
    line=$(grep -E '\| [0-9]+ passed' "$log" | tail -1)
    p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
    f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
    s=$(sed -nE 's/.* ([0-9]+) ignored.*/\1/p' <<<"$line")
  else
    # Bun: " 12 pass", " 2 skip", " 0 fail"
    p=$(sed -nE 's/^ *([0-9]+) pass$/\1/p' "$log" | tail -1)
    s=$(sed -nE 's/^ *([0-9]+) skip$/\1/p' "$log" | tail -1)
    f=$(sed -nE 's/^ *([0-9]+) fail$/\1/p' "$log" | tail -1)
  fi
  f=${f:-0} s=${s:-0}
  [ -n "$p" ] || { p=0; f=$((f + 1)); }
  [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=$((f + 1))
  echo "$p $f $s"
}

# closing_counts LOG
#   The last "N passed, N failed, N skipped" line of a stage's log as "P F S";
#   a stage that printed none counts as one failure.
closing_counts() {
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$1" | tail -1)
  if [ -z "$line" ]; then
    echo "0 1 0"
    return
  fi
  sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/' <<<"$line" |
    awk '{ print $1, $2, ($3 == "" ? 0 : $3) }'
}
