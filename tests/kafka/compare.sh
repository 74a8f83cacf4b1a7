#!/usr/bin/env bash
# First comparison figure (issue 4): official `kafka-reassign-partitions --generate`
# versus `kafka-migrate plan`, on a real Kafka cluster whose topics sit on
# brokers 1,2,3 while broker 4 is empty.
#
# usage: tests/kafka/compare.sh [--keep-topics]
#   Uses the running harness cluster (tests/kafka/cluster.sh start); if none is
#   running it starts one and stops it on exit.
# env:   COMPARE_GENERATE_RUNS (5)  how many times to run --generate (it is random)
#        KAFKA_MIGRATE_BIN          kafka-migrate binary (default target/release, then target/debug)
#        KAFKA_MIGRATE_PLAN_ARGS    extra arguments for `kafka-migrate plan`
#        PLAN_CHECK                 referee (default /work/shared/tools/plan-check, then ../shared/tools/plan-check)
#        COMPARE_EXECUTE (1)        then execute ours.json with the official tool and --verify it
# writes target/kafka/compare/: snapshot.json (kafka-migrate describe), topics-to-move.json, generate-N.out,
#        official-current.json, official-plan.json (run 1), official-plan-N.json,
#        official-figures.json, official-plan-check.json, ours.json, ours-figures.json,
#        ours-plan-check.json, summary.json
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BASE=${KAFKA_HARNESS_DIR:-$REPO/target/kafka}
OUT=$BASE/compare
K=$HERE/cluster.sh
PY=${PYTHON:-python3}
RUNS=${COMPARE_GENERATE_RUNS:-5}
KEEP_TOPICS=0
[[ ${1:-} == --keep-topics ]] && KEEP_TOPICS=1

log() { echo "compare.sh: $*" >&2; }

STARTED=0
cleanup() { if ((STARTED)); then "$K" stop || true; fi; }
trap cleanup EXIT

if [[ -f $BASE/bootstrap ]] && "$PY" "$HERE/kwire.py" metadata "$(cat "$BASE/bootstrap")" >/dev/null 2>&1; then
  B=$(cat "$BASE/bootstrap")
else
  log "no running cluster: starting one"
  STARTED=1
  B=$("$K" start)
fi
log "bootstrap $B"
rm -rf "$OUT"
mkdir -p "$OUT"

# ------------------------------------------------------------ topics on 1,2,3
# name  replica-assignment (partition lists, first = preferred leader)  records  record-size
TOPICS=(
  "cmp-orders  1:2:3,2:3:1,3:1:2,1:3:2,2:1:3,3:2:1  12000 1000"
  "cmp-events  1:2,2:3,3:1,1:3                     16000 400"
  "cmp-logs    2:3:1,3:1:2,1:2:3                   3000  2000"
  "cmp-metrics 3:1,1:2                             2000  200"
  "cmp-audit   2,3,1                               500   1000"
)
NAMES=()
for spec in "${TOPICS[@]}"; do
  read -r name assign records size <<<"$spec"
  NAMES+=("$name")
  if "$K" tool kafka-topics --bootstrap-server "$B" --list | grep -qx "$name"; then
    "$K" tool kafka-topics --bootstrap-server "$B" --delete --topic "$name" >/dev/null
    sleep 2
  fi
  "$K" tool kafka-topics --bootstrap-server "$B" --create --topic "$name" --replica-assignment "$assign" >/dev/null
  log "created $name on $assign; producing $records x ${size}B"
  "$K" tool kafka-producer-perf-test --topic "$name" --num-records "$records" --record-size "$size" \
    --throughput -1 --producer-props bootstrap.servers="$B" acks=all linger.ms=20 batch.size=65536 \
    >"$OUT/produce-$name.out" 2>&1 || { cat "$OUT/produce-$name.out" >&2; exit 1; }
done
TOPIC_LIST=$(IFS=,; echo "${NAMES[*]}")

# let followers fetch the last batches so log-dir sizes agree across replicas
sleep 2

# ------------------------------------------------------------ kafka-migrate binary
BIN=${KAFKA_MIGRATE_BIN:-}
if [[ -z $BIN ]]; then
  for c in "$REPO/target/release/kafka-migrate" "$REPO/target/debug/kafka-migrate"; do
    [[ -x $c ]] && { BIN=$c; break; }
  done
fi
[[ -n $BIN ]] || { log "no kafka-migrate binary: cargo build --release, or set KAFKA_MIGRATE_BIN"; exit 1; }

# ------------------------------------------------------------ snapshot
# `kafka-migrate describe` over the wire, limited to this script's topics
# (a partition's size is its leader's log).
TOPIC_ARGS=()
for name in "${NAMES[@]}"; do TOPIC_ARGS+=(--topic "$name"); done
snapshot() { # out
  "$BIN" describe --bootstrap-server "$B" "${TOPIC_ARGS[@]}" -o "$1" >"$1.describe.out"
}
snapshot "$OUT/snapshot.json"
log "snapshot: $OUT/snapshot.json"

# ------------------------------------------------------------ official --generate
"$PY" -c 'import json,sys; print(json.dumps({"version":1,"topics":[{"topic":t} for t in sys.argv[1].split(",")]}))' \
  "$TOPIC_LIST" >"$OUT/topics-to-move.json"
for ((i = 1; i <= RUNS; i++)); do
  "$K" tool kafka-reassign-partitions --bootstrap-server "$B" --generate \
    --topics-to-move-json-file "$OUT/topics-to-move.json" --broker-list 1,2,3,4 >"$OUT/generate-$i.out"
  "$PY" "$HERE/plan_figures.py" --extract-generate "$OUT/generate-$i.out" \
    --current "$OUT/official-current.json" --proposed "$OUT/official-plan-$i.json"
  "$PY" "$HERE/plan_figures.py" --state "$OUT/snapshot.json" --plan "$OUT/official-plan-$i.json" \
    --label "official --generate run $i" >"$OUT/official-figures-$i.json"
done
cp "$OUT/official-plan-1.json" "$OUT/official-plan.json"
cp "$OUT/official-figures-1.json" "$OUT/official-figures.json"

# ------------------------------------------------------------ referee
PLAN_CHECK=${PLAN_CHECK:-}
if [[ -z $PLAN_CHECK ]]; then
  for c in /work/shared/tools/plan-check "$REPO/../shared/tools/plan-check"; do
    [[ -f $c ]] && { PLAN_CHECK=$c; break; }
  done
fi
plan_check() { # plan out
  if [[ -n $PLAN_CHECK ]]; then
    "$PY" "$PLAN_CHECK" --state "$OUT/snapshot.json" --plan "$1" >"$2" 2>&1 || log "plan-check exit $? on $1 (see $2)"
  else
    echo '{"skipped":"plan-check not found"}' >"$2"
  fi
}
plan_check "$OUT/official-plan.json" "$OUT/official-plan-check.json"

# ------------------------------------------------------------ ours (hook)
# The same snapshot, planned by kafka-migrate: `kafka-migrate plan --state snapshot.json -o ours.json`
OURS=skipped
if "$BIN" plan --help >/dev/null 2>&1; then
  log "running $BIN plan"
  # shellcheck disable=SC2086
  if "$BIN" plan --state "$OUT/snapshot.json" -o "$OUT/ours.json" ${KAFKA_MIGRATE_PLAN_ARGS:-} >"$OUT/ours-plan.out" 2>&1; then
    OURS=ran
  else
    log "kafka-migrate plan exited $? (see $OUT/ours-plan.out)"
    [[ -s $OUT/ours.json ]] && OURS=ran-nonzero || OURS=failed
  fi
  if [[ -s $OUT/ours.json ]]; then
    "$PY" "$HERE/plan_figures.py" --state "$OUT/snapshot.json" --plan "$OUT/ours.json" \
      --label "kafka-migrate plan" >"$OUT/ours-figures.json"
    plan_check "$OUT/ours.json" "$OUT/ours-plan-check.json"
  fi
else
  log "skipping kafka-migrate plan: no binary with a 'plan' command (build it, or set KAFKA_MIGRATE_BIN)"
fi

# ------------------------------------------------------------ real execution of ours.json
# The official tool must accept our plan and the real cluster must complete it.
EXEC=skipped
if [[ ${COMPARE_EXECUTE:-1} == 1 && -s $OUT/ours.json ]]; then
  t0=$(date +%s.%N)
  if "$K" tool kafka-reassign-partitions --bootstrap-server "$B" --execute \
    --reassignment-json-file "$OUT/ours.json" >"$OUT/ours-execute.out" 2>&1; then
    EXEC=timeout
    for _ in $(seq 1 240); do
      "$K" tool kafka-reassign-partitions --bootstrap-server "$B" --verify \
        --reassignment-json-file "$OUT/ours.json" >"$OUT/ours-verify.out" 2>&1 || true
      if ! grep -q 'still in progress' "$OUT/ours-verify.out" && grep -q 'is completed' "$OUT/ours-verify.out"; then
        if grep -qv -e 'is completed' -e '^Status of' -e '^Clearing' -e '^$' "$OUT/ours-verify.out"; then EXEC=verify-errors; else EXEC=completed; fi
        break
      fi
      sleep 0.5
    done
    EXEC_SECONDS=$("$PY" -c 'import sys,time; print(round(time.time()-float(sys.argv[1]),1))' "$t0")
    # what the cluster now holds must be exactly the plan
    snapshot "$OUT/snapshot-after-ours.json"
    "$PY" - "$OUT/ours.json" "$OUT/snapshot-after-ours.json" <<'PYCHECK' >"$OUT/ours-after-check.txt" || EXEC=$EXEC-but-replicas-differ
import json, sys
plan = json.load(open(sys.argv[1]))
snap = json.load(open(sys.argv[2]))
now = {(t["name"], p["partition"]): p["replicas"] for t in snap["topics"] for p in t["partitions"]}
bad = [(e["topic"], e["partition"], e["replicas"], now.get((e["topic"], e["partition"])))
       for e in plan["partitions"] if now.get((e["topic"], e["partition"])) != e["replicas"]]
print("replicas as planned" if not bad else f"differ: {bad}")
sys.exit(1 if bad else 0)
PYCHECK
  else
    EXEC=execute-failed
  fi
  log "executed ours.json on the real cluster: $EXEC ${EXEC_SECONDS:-}s"
fi

# ------------------------------------------------------------ summary
"$PY" - "$OUT" "$RUNS" "$OURS" "${BIN:-}" "$EXEC" "${EXEC_SECONDS:-}" <<'EOF'
import glob, json, os, statistics, sys
out, runs, ours, binary, executed, exec_s = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def load(p):
    try:
        with open(os.path.join(out, p)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
snap = load("snapshot.json")
runs_f = [load(f"official-figures-{i}.json") for i in range(1, runs + 1)]
def pick(pc):
    if not isinstance(pc, dict):
        return pc
    keep = {}
    for k, v in pc.items():
        if not isinstance(v, (dict, list)) or k in ("moves", "balance", "lower_bounds", "valid", "errors", "racks"):
            keep[k] = v
    return keep or pc
def span(key):
    xs = [r[key] for r in runs_f if r]
    return {"first": xs[0], "min": min(xs), "max": max(xs), "mean": round(statistics.mean(xs), 1)} if xs else None
summary = {
    "cluster": {"brokers": [{"id": b["id"], "rack": b.get("rack")} for b in snap["brokers"]],
                "topics": len(snap["topics"]),
                "partitions": sum(len(t["partitions"]) for t in snap["topics"]),
                "replicas": runs_f[0]["total_replicas"], "bytes": runs_f[0]["total_bytes"],
                "replicas_per_broker": runs_f[0]["replicas_per_broker_before"]},
    "official_generate": {"runs": runs, "replicas_moved": span("replicas_moved"),
                          "bytes_moved": span("bytes_moved"),
                          "partitions_changed": span("partitions_changed"),
                          "run1_replicas_per_broker_after": runs_f[0]["replicas_per_broker_after"],
                          "run1_plan_check": pick(load("official-plan-check.json"))},
    "kafka_migrate_plan": {"status": ours, "binary": binary or None,
                           "executed_on_real_cluster": executed,
                           "execute_seconds": float(exec_s) if exec_s else None},
}
of = load("ours-figures.json")
if of:
    summary["kafka_migrate_plan"].update({
        "replicas_moved": of["replicas_moved"], "bytes_moved": of["bytes_moved"],
        "partitions_changed": of["partitions_changed"],
        "replicas_per_broker_after": of["replicas_per_broker_after"],
        "plan_check": pick(load("ours-plan-check.json"))})
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
print(json.dumps(summary, indent=1))
EOF

if ((!KEEP_TOPICS)); then
  for name in "${NAMES[@]}"; do "$K" tool kafka-topics --bootstrap-server "$B" --delete --topic "$name" >/dev/null || true; done
fi
log "results in $OUT"
