#!/usr/bin/env bash
# Tries the binary as a careless new user would: bad inputs, edge cases,
# closed pipes, full disks, outputs naming inputs, a mini-broker as a
# process. Each case prints its exit code and whether it matched what is
# documented; any mismatch, any panic (exit 101 or "panicked" on stderr)
# or any user file changed makes the script fail.
#
#   tests/tools/abuse.sh [BINARY]     (default: target/debug/kafka-migrate)
#
# `cargo test` runs it (tests/it/files.rs, `abuse_script`), so CI does too.
set -uo pipefail

BIN=${1:-${KM_BIN:-target/debug/kafka-migrate}}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build first)" >&2; exit 2; }
export LANG=C.UTF-8
unset LC_ALL LC_CTYPE
W=$(mktemp -d)
MB_PID=
cleanup() {
  [ -n "$MB_PID" ] && kill "$MB_PID" 2>/dev/null && wait "$MB_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

pass=0
fail=0
# case NAME EXPECTED_EXIT STDERR_REGEX -- COMMAND...
# Runs COMMAND in $W; checks its exit code and that stderr matches the
# regex (empty: anything), with no panic.
case_() {
  local name=$1 want=$2 re=$3
  shift 4
  local code
  "$@" >out.txt 2>err.txt </dev/null
  code=$?
  check_ "$name" "$want" "$re" "$code"
}
# As case_, for a shell pipeline given as one string.
sh_case() {
  local name=$1 want=$2 re=$3 cmd=$4 code
  bash -c "set -o pipefail; $cmd" >out.txt 2>err.txt </dev/null
  code=$?
  check_ "$name" "$want" "$re" "$code"
}
check_() {
  local name=$1 want=$2 re=$3 code=$4 ok=1
  [ "$code" = "$want" ] || ok=0
  grep -q "panicked" err.txt && ok=0
  [ "$code" = 101 ] && ok=0
  if [ -n "$re" ] && ! grep -Eq -- "$re" err.txt; then ok=0; fi
  if [ $ok = 1 ]; then
    pass=$((pass + 1))
    printf 'ok    exit %-3s %s\n' "$code" "$name"
  else
    fail=$((fail + 1))
    printf 'FAIL  exit %-3s %s (wanted %s, stderr /%s/)\n' "$code" "$name" "$want" "$re"
    sed 's/^/        | /' err.txt | head -5
  fi
}
# same NAME FILE CONTENT: a user's file is as it was.
same() {
  if [ "$(cat "$2" 2>/dev/null)" = "$3" ]; then
    pass=$((pass + 1)); printf 'ok    kept      %s\n' "$1"
  else
    fail=$((fail + 1)); printf 'FAIL  changed   %s (%s)\n' "$1" "$2"
  fi
}

# Fixtures.
"$BIN" gen-snapshot --seed 1 -o s.json 2>/dev/null
SNAP=$(cat s.json)
cat >noop.json <<'EOF'
{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2]},{"partition":1,"replicas":[2,1]}]}]}
EOF
cat >dead.json <<'EOF'
{"version":1,"brokers":[{"id":1},{"id":2},{"id":3,"alive":false}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,3]},{"partition":1,"replicas":[3,2]}]}]}
EOF
echo precious >precious.txt
echo mine >t2.json
ln -s s.json link.json
ln s.json hard.json
"$BIN" plan --state s.json -o p.json >/dev/null 2>&1

echo "== files"
case_ "plan -o names its --state input" 2 "input of this run" -- "$BIN" plan --state s.json -o s.json
same "the snapshot after -o s.json" s.json "$SNAP"
case_ "plan -o through a symlink to the input" 2 "input of this run" -- "$BIN" plan --state s.json -o link.json
case_ "plan --rollback through a hard link to the input" 2 "input of this run" -- "$BIN" plan --state s.json -o x.json --rollback hard.json
same "the snapshot after the links" s.json "$SNAP"
[ ! -e x.json ] && { pass=$((pass + 1)); echo "ok    absent    x.json (nothing written on a refused run)"; } || { fail=$((fail + 1)); echo "FAIL  x.json written"; }
case_ "no-op plan keeps -o and --rollback files" 0 "left as it is" -- "$BIN" plan --state noop.json -o precious.txt --rollback t2.json
same "precious.txt after a no-op plan" precious.txt precious
same "t2.json after a no-op plan" t2.json mine
case_ "--max-moves 0 leaves a dead broker: exit 1, file kept" 1 "left as it is" -- "$BIN" plan --state dead.json --max-moves 0 --no-leader-balance -o precious.txt
same "precious.txt after --max-moves 0" precious.txt precious
case_ "--no-clobber keeps an existing plan" 2 "no-clobber" -- "$BIN" plan --state s.json -o precious.txt --no-clobber
same "precious.txt after --no-clobber" precious.txt precious
case_ "-o and --rollback both -" 2 "both write to standard output" -- "$BIN" plan --state s.json -o - --rollback -
case_ "-o - with --output json" 2 "would mix" -- "$BIN" plan --state s.json -o - --output json
sh_case "-o - pipes a plan into check" 0 "valid" "'$BIN' plan --state s.json -o - 2>/dev/null | '$BIN' check - --state s.json"
case_ "plan says which files it wrote" 0 "wrote rollback \([0-9]+ partitions\) to r.json" -- "$BIN" plan --state s.json -o q.json --rollback r.json
case_ "-o into a missing directory" 3 "cannot create" -- "$BIN" plan --state s.json -o no/such/dir/p.json

echo "== streams"
sh_case "gen-snapshot | head -c 10" 0 "" "'$BIN' gen-snapshot | head -c 10"
sh_case "check | head -1" 0 "" "'$BIN' check p.json --state s.json | head -1"
sh_case "plan --output json | head -1" 0 "" "'$BIN' plan --state s.json --output json | head -1"
case_ "plan > /dev/full" 3 "cannot write to standard output" -- bash -c "'$BIN' plan --state s.json >/dev/full"
case_ "check > /dev/full" 3 "cannot write to standard output" -- bash -c "'$BIN' check p.json --state s.json >/dev/full"
case_ "check --output json > /dev/full" 3 "cannot write to standard output" -- bash -c "'$BIN' check p.json --state s.json --output json >/dev/full"
case_ "gen-snapshot > /dev/full" 3 "cannot write to standard output" -- bash -c "'$BIN' gen-snapshot >/dev/full"
case_ "describe --output json > /dev/full (no cluster: exit 3 either way)" 3 "" -- bash -c "'$BIN' describe --bootstrap-server 127.0.0.1:1 --timeout 2 --output json >/dev/full"
sh_case "LANG=C tables are ASCII" 0 "" "t=\$(LANG=C '$BIN' check p.json --state s.json) && [ -n \"\$t\" ] && ! printf %s \"\$t\" | LC_ALL=C grep -q '[^ -~]'"

echo "== bad input"
echo '[]' >arr.json
case_ "a JSON array as a snapshot" 2 "" -- "$BIN" plan --state arr.json
printf '{"version":1' >trunc.json
case_ "a truncated snapshot" 2 "" -- "$BIN" plan --state trunc.json
case_ "a missing snapshot" 2 "cannot read" -- "$BIN" plan --state nope.json
echo '{"version":1,"partitions":[{"topic":"topic-000000","partition":0,"replicas":[-1,2]}]}' >neg.json
case_ "a plan naming broker -1" 2 "" -- "$BIN" check neg.json --state s.json

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
