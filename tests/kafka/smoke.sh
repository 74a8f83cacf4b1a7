#!/usr/bin/env bash
# Smoke test of the real-Kafka harness: Kafka's own tools against the harness
# cluster (create, produce/consume, kcat, generate/execute/verify with a throttle,
# log dirs, configs, preferred election, a broker stopped and restarted).
# Uses the running cluster, or starts one and stops it on exit.
# Prints one line per check and a closing 'N passed, N failed'; exit 1 on a failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BASE=${KAFKA_HARNESS_DIR:-$REPO/target/kafka}
K=$HERE/cluster.sh
PY=${PYTHON:-python3}
W=$BASE/smoke
PASS=0 FAIL=0
T=smoke-$$

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@" >>"$W/log" 2>&1; then ok "$what"; else bad "$what (see $W/log)"; fi; }
tool() { "$K" tool "$@"; }

STARTED=0
finish() {
  tool kafka-topics --bootstrap-server "$B" --delete --topic "$T" >/dev/null 2>&1 || true
  if ((STARTED)); then "$K" stop >/dev/null 2>&1 || true; fi
  echo "$PASS passed, $FAIL failed"
}
trap finish EXIT

rm -rf "$W"; mkdir -p "$W"
if [[ -f $BASE/bootstrap ]] && "$PY" "$HERE/kwire.py" metadata "$(cat "$BASE/bootstrap")" >/dev/null 2>&1; then
  B=$(cat "$BASE/bootstrap")
else
  STARTED=1
  t0=$SECONDS
  if B=$("$K" start 2>>"$W/log"); then ok "cluster start ($((SECONDS - t0))s)"; else bad "cluster start"; exit 1; fi
fi

live() { local r; r=$("$PY" "$HERE/kwire.py" brokers "$B") && echo "${r% *}"; }
racks() { local r; r=$("$PY" "$HERE/kwire.py" brokers "$B") && echo "${r#* }"; }
[[ $(live) == 1,2,3,4 ]] && ok "4 live brokers" || bad "live brokers: $(live)"
[[ $(racks) == 1:rack-a,2:rack-b,3:rack-a,4:rack-b ]] && ok "racks" || bad "racks: $(racks)"

check "kafka-topics --create" tool kafka-topics --bootstrap-server "$B" --create --topic "$T" --replica-assignment 1:2,2:3,3:1
seq 1 100 | sed 's/^/msg-/' | tool kafka-console-producer --bootstrap-server "$B" --topic "$T" >>"$W/log" 2>&1 \
  && ok "kafka-console-producer" || bad "kafka-console-producer"
n=$(tool kafka-console-consumer --bootstrap-server "$B" --topic "$T" --from-beginning --max-messages 100 --timeout-ms 20000 2>>"$W/log" | grep -c '^msg-')
[[ $n == 100 ]] && ok "kafka-console-consumer read 100" || bad "kafka-console-consumer read $n"
if command -v kcat >/dev/null; then
  seq 1 50 | sed 's/^/kcat-/' | kcat -P -b "$B" -t "$T" 2>>"$W/log" && ok "kcat produce" || bad "kcat produce"
  n=$(kcat -C -b "$B" -t "$T" -e -q 2>>"$W/log" | wc -l)
  [[ $n == 150 ]] && ok "kcat consume 150" || bad "kcat consume $n"
else
  echo "skip - kcat not installed"
fi

# ---- reassignment with a throttle
echo "{\"version\":1,\"topics\":[{\"topic\":\"$T\"}]}" >"$W/topics.json"
tool kafka-reassign-partitions --bootstrap-server "$B" --generate --topics-to-move-json-file "$W/topics.json" \
  --broker-list 1,2,3,4 >"$W/generate.out" 2>>"$W/log" && grep -q '^Proposed partition reassignment' "$W/generate.out" \
  && ok "reassign --generate" || bad "reassign --generate"
echo "{\"version\":1,\"partitions\":[{\"topic\":\"$T\",\"partition\":0,\"replicas\":[4,1]},{\"topic\":\"$T\",\"partition\":1,\"replicas\":[4,2]},{\"topic\":\"$T\",\"partition\":2,\"replicas\":[3,4]}]}" >"$W/plan.json"
check "reassign --execute --throttle" tool kafka-reassign-partitions --bootstrap-server "$B" --execute \
  --reassignment-json-file "$W/plan.json" --throttle 1000000
tool kafka-configs --bootstrap-server "$B" --describe --entity-type brokers --entity-name 4 >"$W/b4.out" 2>>"$W/log"
grep -q 'follower.replication.throttled.rate=1000000' "$W/b4.out" && ok "broker throttle set on 4" || bad "broker throttle on 4"
done=0
for _ in $(seq 1 60); do
  tool kafka-reassign-partitions --bootstrap-server "$B" --verify --reassignment-json-file "$W/plan.json" >"$W/verify.out" 2>>"$W/log"
  if [[ $(grep -c 'is completed' "$W/verify.out") == 3 ]]; then done=1; break; fi
  sleep 1
done
((done)) && ok "reassign --verify completed" || bad "reassign --verify: $(cat "$W/verify.out")"
tool kafka-configs --bootstrap-server "$B" --describe --entity-type brokers --entity-name 4 >"$W/b4.out" 2>>"$W/log"
grep -q 'throttled.rate' "$W/b4.out" && bad "throttle still set after verify" || ok "throttle removed by --verify"
tool kafka-topics --bootstrap-server "$B" --describe --topic "$T" >"$W/describe.out" 2>>"$W/log"
grep -q 'Partition: 0.*Replicas: 4,1' "$W/describe.out" && grep -q 'Partition: 2.*Replicas: 3,4' "$W/describe.out" \
  && ok "replicas after move" || bad "replicas after move: $(cat "$W/describe.out")"

# ---- preferred leader election (partition 0 led by 1 until elected; auto rebalance is off)
check "kafka-leader-election --election-type preferred" tool kafka-leader-election --bootstrap-server "$B" \
  --election-type preferred --topic "$T" --partition 0
tool kafka-topics --bootstrap-server "$B" --describe --topic "$T" >"$W/describe.out" 2>>"$W/log"
grep -q 'Partition: 0.*Leader: 4' "$W/describe.out" && ok "leader is preferred after election" || bad "leader after election: $(grep 'Partition: 0' "$W/describe.out")"

# ---- log dirs and configs
tool kafka-log-dirs --bootstrap-server "$B" --describe --topic-list "$T" >"$W/logdirs.out" 2>>"$W/log"
tail -n 1 "$W/logdirs.out" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert sorted(b["broker"] for b in d["brokers"]) == [1, 2, 3, 4], d
assert all(len(b["logDirs"]) == 2 for b in d["brokers"]), "2 log dirs per broker"
assert any(p["size"] > 0 for b in d["brokers"] for l in b["logDirs"] for p in l["partitions"]), "sizes"
' >>"$W/log" 2>&1 && ok "kafka-log-dirs --describe: 4 brokers x 2 dirs" || bad "kafka-log-dirs"
check "kafka-configs --alter broker 2" tool kafka-configs --bootstrap-server "$B" --alter --entity-type brokers \
  --entity-name 2 --add-config leader.replication.throttled.rate=777000
tool kafka-configs --bootstrap-server "$B" --describe --entity-type brokers --entity-name 2 2>>"$W/log" \
  | grep -q 'leader.replication.throttled.rate=777000' && ok "kafka-configs read back" || bad "kafka-configs read back"
check "kafka-configs --delete-config" tool kafka-configs --bootstrap-server "$B" --alter --entity-type brokers \
  --entity-name 2 --delete-config leader.replication.throttled.rate

# ---- a broker stopped and restarted
check "stop-broker 4" "$K" stop-broker 4
[[ $(live) == 1,2,3 ]] && ok "broker 4 gone from metadata" || bad "live after stop: $(live)"
seq 1 10 | sed 's/^/down-/' | tool kafka-console-producer --bootstrap-server "$B" --topic "$T" >>"$W/log" 2>&1 \
  && ok "produce with broker 4 down" || bad "produce with broker 4 down"
check "start-broker 4" "$K" start-broker 4
insync=0
for _ in $(seq 1 30); do
  tool kafka-topics --bootstrap-server "$B" --describe --topic "$T" --under-replicated-partitions >"$W/urp.out" 2>>"$W/log"
  if ! grep -q Partition "$W/urp.out"; then insync=1; break; fi
  sleep 1
done
((insync)) && ok "ISR full again after restart" || bad "under-replicated: $(cat "$W/urp.out")"

((FAIL == 0))
