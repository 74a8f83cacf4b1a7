#!/usr/bin/env bash
# The README's plan-quality table: `kafka-migrate plan` beside Kafka 4.3.1's
# own `kafka-reassign-partitions --generate` on the same generated clusters,
# both judged by the independent referee ../shared/tools/plan-check.
#
# usage: tests/kafka/quality.sh [SEEDS]      (default 10: seeds 1..SEEDS per row)
#   needs: target/kafka/lib (tests/kafka/cluster.sh fetches the jars; no
#   cluster is started), Java 17, a kafka-migrate binary (release, else
#   debug), ../shared/tools/plan-check.
# `--generate` is reproduced without a cluster by tests/kafka/Generate.java
# (Kafka's own calculateAssignment, given every topic and the broker list an
# operator would pass). It is random (each topic's start broker), one sample
# per seed. Offline partitions (no live in-sync replica) are left out of both plans
# before judging, as `plan --allow-offline` and drop_offline.py do.
# writes target/kafka/quality/: per row and seed the snapshot, both plans and
# both plan-check reports; prints one markdown table.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SEEDS=${1:-10}
[[ $SEEDS =~ ^[1-9][0-9]*$ ]] || { echo "quality.sh: SEEDS must be a positive number, not '$SEEDS'" >&2; exit 2; }
LIB=$REPO/target/kafka/lib
OUT=$REPO/target/kafka/quality
BIN=${KAFKA_MIGRATE_BIN:-$REPO/target/release/kafka-migrate}
[[ -x $BIN ]] || BIN=$REPO/target/debug/kafka-migrate
CHECK=${PLAN_CHECK:-$REPO/../shared/tools/plan-check}
[[ -d $LIB ]] || { echo "quality.sh: no $LIB: run tests/kafka/cluster.sh start once (it fetches Kafka's jars)" >&2; exit 2; }
[[ -x $BIN ]] || { echo "quality.sh: no kafka-migrate binary: cargo build --release" >&2; exit 2; }
[[ -x $CHECK ]] || { echo "quality.sh: no plan-check at $CHECK" >&2; exit 2; }

mkdir -p "$OUT/classes"
javac -d "$OUT/classes" -cp "$LIB/*" "$HERE/Generate.java"

# name | gen-snapshot flags | plan flags | --generate broker list (empty: live brokers)
STD="--broker-count 30 --partitions 5000"
ROWS=(
  "3 even racks, RF 1 to 3, no dead broker|$STD --even-racks --dead-brokers 0||"
  "3 even racks, RF 3 only, no dead broker|$STD --even-racks --dead-brokers 0 --rf3||"
  "no racks, a dead broker|$STD --rack-count 0||"
  "3 even racks, a dead broker|$STD --even-racks||"
  "4 uneven racks, no dead broker|$STD --rack-count 4 --dead-brokers 0||"
  "3 uneven racks, a dead broker|$STD||"
  "\`--remove-brokers 1,2,3\`, even racks|$STD --even-racks --dead-brokers 0|--remove-brokers 1,2,3|$(seq -s, 4 30)"
  "8 brokers, 4 even racks, 2 dead, 859 partitions|--broker-count 8 --rack-count 4 --even-racks --growth-steps 1 --partitions 859 --dead-brokers 2||"
)

echo "| profile | moves / lower bound, max (median): plan | --generate | replica excess after: plan | --generate | leader spread after: plan | --generate | topic excess after: plan | --generate |"
echo "|---|---|---|---|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  IFS='|' read -r name gen plan brokers <<<"$row"
  dir=$OUT/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '-')
  mkdir -p "$dir"
  for seed in $(seq 1 "$SEEDS"); do
    s=$dir/s$seed
    # shellcheck disable=SC2086
    "$BIN" gen-snapshot $gen --seed "$seed" -o "$s.json" >/dev/null
    python3 "$REPO/tests/tools/drop_offline.py" "$s.json" "$s-online.json" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$BIN" plan --state "$s.json" --seed "$seed" --allow-offline $plan -o "$s-plan.json" >/dev/null || [[ $? == 1 ]]
    java -cp "$OUT/classes:$LIB/*" Generate "$s.json" "$s-generate-all.json" ${brokers:+"$brokers"}
    python3 - "$s-online.json" "$s-generate-all.json" "$s-generate.json" <<'PY'
import json, sys
online = {(t["name"], p["partition"]) for t in json.load(open(sys.argv[1]))["topics"] for p in t["partitions"]}
plan = json.load(open(sys.argv[2]))
plan["partitions"] = [p for p in plan["partitions"] if (p["topic"], p["partition"]) in online]
json.dump(plan, open(sys.argv[3], "w"))
PY
    check_args=()
    [[ -n $brokers ]] && check_args=(--brokers "$brokers")
    "$CHECK" --state "$s-online.json" --plan "$s-plan.json" "${check_args[@]}" >"$s-plan-check.json"
    "$CHECK" --state "$s-online.json" --plan "$s-generate.json" "${check_args[@]}" >"$s-generate-check.json"
  done
  python3 - "$name" "$dir" "$SEEDS" <<'PY'
import json, signal, statistics, sys
# A closed pipe (| head) ends the table quietly, as for any Unix tool.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
name, d, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def load(kind):
    out = []
    for s in range(1, seeds + 1):
        r = json.load(open(f"{d}/s{s}-{kind}-check.json"))
        if not r["valid"]:
            sys.exit(f"quality.sh: {kind} plan of {name!r} seed {s} is invalid: {r['errors'][:3]}")
        out.append(r)
    return out
ours, theirs = load("plan"), load("generate")
def ratio(rs):
    v = [r["move_ratio"] for r in rs]
    return f"{max(v):.4f} ({statistics.median(v):.4f})"
def span(rs, key):
    v = [r[key] for r in rs]
    return str(min(v)) if min(v) == max(v) else f"{min(v)} to {max(v)}"
cells = [ratio(ours), ratio(theirs)]
for key in ("replica_excess_after", "leader_spread_after", "topic_excess_after"):
    cells += [span(ours, key), span(theirs, key)]
print(f"| {name} | " + " | ".join(cells) + " |")
PY
done
