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
"$BIN" gen-snapshot --seed 1 --dead-brokers 0 -o s.json 2>/dev/null
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

echo "== partitions in motion, partitions with no live in-sync replica"
cat >moving.json <<'EOF2'
{"version":1,"brokers":[{"id":1},{"id":2},{"id":3},{"id":4}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[2,4,1],"target_replicas":[2,4],"adding_replicas":[4],"removing_replicas":[1]},{"partition":1,"replicas":[1,2]}]}]}
EOF2
case_ "plan on a snapshot taken mid-move" 2 "t-0" -- "$BIN" plan --state moving.json
case_ "plan --in-flight target" 0 "" -- "$BIN" plan --state moving.json --in-flight target
cat >offline.json <<'EOF2'
{"version":1,"brokers":[{"id":1},{"id":2},{"id":3,"alive":false}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[3]},{"partition":1,"replicas":[1,3]},{"partition":2,"replicas":[2,1]}]}]}
EOF2
case_ "plan with a partition whose only replica is on a dead broker" 1 "no in-sync replica on a live broker" -- "$BIN" plan --state offline.json -o off.json
if grep -q '"partition":0' off.json 2>/dev/null; then fail=$((fail + 1)); echo "FAIL  the unrecoverable t-0 is in the plan"; else pass=$((pass + 1)); echo "ok    absent    the unrecoverable t-0 from the plan"; fi
case_ "plan --allow-offline" 0 "" -- "$BIN" plan --state offline.json --allow-offline

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
case_ "a JSON array as a snapshot" 2 "expected a snapshot object with version, brokers and topics" -- "$BIN" plan --state arr.json
printf '\xef\xbb\xbf%s' "$(cat noop.json)" >bom.json
case_ "a snapshot with a UTF-8 BOM" 0 "" -- "$BIN" plan --state bom.json
sed 's/"name":"t"/"name":"bad topic"/' noop.json >badname.json
case_ "an invalid topic name in a snapshot" 2 "a-zA-Z0-9" -- "$BIN" plan --state badname.json
echo '{"version":1,"partitions":[{"topic":"..","partition":0,"replicas":[1,2]}]}' >badplan.json
case_ "an invalid topic name in a plan" 2 "a-zA-Z0-9" -- "$BIN" check badplan.json --state noop.json
case_ "plan --objective size without sizes" 2 "size" -- "$BIN" plan --state noop.json --objective size
case_ "gen-snapshot --broker-count 0" 2 "" -- "$BIN" gen-snapshot --broker-count 0
case_ "gen-snapshot --dead-brokers over the broker count" 2 "dead-brokers" -- "$BIN" gen-snapshot --broker-count 3 --dead-brokers 3
case_ "gen-snapshot --rack-count over the broker count" 2 "rack-count" -- "$BIN" gen-snapshot --broker-count 3 --rack-count 5
case_ "gen-snapshot --brokers (the old spelling) still works" 0 "" -- "$BIN" gen-snapshot --brokers 4 -o old.json
case_ "check --reassignment-json-file (Kafka's spelling)" 0 "valid" -- "$BIN" check --reassignment-json-file p.json --state s.json
case_ "plan --disable-rack-aware (Kafka's spelling)" 0 "" -- "$BIN" plan --state s.json --disable-rack-aware
printf '{"version":1' >trunc.json
case_ "a truncated snapshot" 2 "" -- "$BIN" plan --state trunc.json
case_ "a missing snapshot" 2 "cannot read" -- "$BIN" plan --state nope.json
echo '{"version":1,"partitions":[{"topic":"topic-000000","partition":0,"replicas":[-1,2]}]}' >neg.json
case_ "a plan naming broker -1" 2 "" -- "$BIN" check neg.json --state s.json

echo "== connections"
case_ "an empty bootstrap" 2 "HOST:PORT" -- "$BIN" describe --bootstrap-server ""
case_ "a bootstrap without a port" 2 "HOST:PORT" -- "$BIN" describe --bootstrap-server localhost
case_ "a bootstrap that does not parse" 2 "HOST:PORT" -- "$BIN" describe --bootstrap-server "http://x:1"
case_ "--timeout 0" 2 "timeout" -- "$BIN" describe --bootstrap-server 127.0.0.1:9 --timeout 0
case_ "a closed port" 3 "127.0.0.1:1" -- "$BIN" describe --bootstrap-server 127.0.0.1:1 --timeout 2
# An HTTP server and a silent one, on free loopback ports.
python3 - >ports.txt 2>/dev/null <<'PY' &
import socket, threading, sys
http = socket.socket(); http.bind(("127.0.0.1", 0)); http.listen(8)
silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen(8)
print(http.getsockname()[1], silent.getsockname()[1], flush=True)
held = []
def serve_http():
    while True:
        c, _ = http.accept(); c.recv(4096)
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"); c.close()
def serve_silent():
    while True:
        c, _ = silent.accept(); held.append(c)
threading.Thread(target=serve_http, daemon=True).start()
threading.Thread(target=serve_silent, daemon=True).start()
threading.Event().wait(120)
PY
SERVERS=$!
for _ in $(seq 50); do [ -s ports.txt ] && break; sleep 0.1; done
read -r HTTP_PORT SILENT_PORT <ports.txt
case_ "an HTTP server as the bootstrap" 3 "not a Kafka listener" -- "$BIN" describe --bootstrap-server 127.0.0.1:$HTTP_PORT --timeout 5
start=$(date +%s)
case_ "a silent server gives up at --timeout" 3 "127.0.0.1:$SILENT_PORT.*(timed out|ApiVersions)|ApiVersions.*127.0.0.1:$SILENT_PORT" -- "$BIN" describe --bootstrap-server 127.0.0.1:$SILENT_PORT --timeout 1
took=$(( $(date +%s) - start ))
if [ "$took" -le 10 ]; then pass=$((pass + 1)); echo "ok    ${took}s      the silent server's give-up"; else fail=$((fail + 1)); echo "FAIL  ${took}s      the silent server's give-up"; fi
kill $SERVERS 2>/dev/null

echo "== mini-broker"
case_ "mini-broker --port 65534 --broker-count 5" 2 "65535" -- "$BIN" mini-broker --port 65534 --broker-count 5
case_ "mini-broker --broker-count 0" 2 "out of range" -- "$BIN" mini-broker --broker-count 0
case_ "mini-broker --fill past memory" 2 "available" -- "$BIN" mini-broker --topic t:1:1 --fill 100TiB
case_ "mini-broker --topic with a bad name" 2 "a-zA-Z0-9" -- "$BIN" mini-broker --topic "bad name:1:1"
touch notadir
case_ "mini-broker --data-dir that is a file" 3 "notadir" -- "$BIN" mini-broker --data-dir notadir/x
mkfifo mb.in
"$BIN" mini-broker --broker-count 3 --rack-count 2 --topic orders:6:2 --data-dir mbdata <mb.in >mb.out 2>mb.err &
MB_PID=$!
exec 7>mb.in
for _ in $(seq 100); do grep -q '^bootstrap: ' mb.out 2>/dev/null && break; sleep 0.1; done
MB=$(sed -n 's/^bootstrap: //p' mb.out)
echo "stop 99" >&7
sleep 0.5
if grep -q "no broker 99" mb.err; then pass=$((pass + 1)); echo "ok    said      stop 99: no such broker"; else fail=$((fail + 1)); echo "FAIL  stop 99 not refused"; fi
case_ "describe -o - writes the snapshot to stdout" 0 "" -- "$BIN" describe --bootstrap-server "$MB" -o -
if "$BIN" plan --state out.txt >/dev/null 2>&1; then pass=$((pass + 1)); echo "ok    parsed    describe -o - output as a snapshot"; else fail=$((fail + 1)); echo "FAIL  describe -o - output is not a snapshot"; fi
case_ "describe --output json > /dev/full" 3 "cannot write to standard output" -- bash -c "'$BIN' describe --bootstrap-server '$MB' --output json >/dev/full"
case_ "describe -o over its own earlier snapshot with --no-clobber" 2 "no-clobber" -- "$BIN" describe --bootstrap-server "$MB" -o s.json --no-clobber
same "s.json after describe --no-clobber" s.json "$SNAP"
case_ "describe via KAFKA_MIGRATE_BOOTSTRAP" 0 "wrote snapshot to live.json" -- env KAFKA_MIGRATE_BOOTSTRAP="$MB" "$BIN" describe -o live.json
kill -TERM "$MB_PID"
exec 7>&-
code=0; wait "$MB_PID" || code=$?
MB_PID=
if [ "$code" = 0 ] && grep -q "saved to mbdata" mb.err; then pass=$((pass + 1)); echo "ok    exit 0   SIGTERM stops the mini-broker and saves --data-dir"; else fail=$((fail + 1)); echo "FAIL  exit $code SIGTERM"; sed 's/^/        | /' mb.err | tail -3; fi

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
