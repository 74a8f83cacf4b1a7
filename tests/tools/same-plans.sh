#!/bin/bash
# same-plans.sh REF_BIN NEW_BIN [small|bench|huge|all]
#
# The planner's refactoring check: plans, rollbacks and `--output json`
# summaries of 44 cases (two seeds of every quality-table row, budgets,
# --objective size, --brokers, --ignore-racks, regression seeds, 100
# brokers / 66k partitions, a 1M-partition snapshot, the plans/ examples;
# `bench` and `huge` add the snapshots of `cargo bench --bench plan_scale`,
# which must exist in target/bench) made by both binaries and compared
# byte for byte, the output paths masked. Exit 0 when all are identical and
# every exit code agrees, 1 otherwise (each difference named).
# `small` takes a minute or two in release builds; snapshots are generated
# once into target/same-plans/snaps with REF_BIN.
set -u
[ $# -ge 2 ] || { echo "usage: $0 REF_BIN NEW_BIN [small|bench|huge|all]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$ROOT/target/same-plans
S=$WORK/snaps
WHICH=${3:-small}
case $WHICH in small|bench|huge|all) ;; *) echo "error: the set must be small, bench, huge or all, not '$WHICH'" >&2; exit 2;; esac
mkdir -p "$S"
snap() { # name args...
  local n=$1; shift
  [ -f "$S/$n.json" ] || "$REF_BIN" gen-snapshot "$@" -o "$S/$n.json" >/dev/null 2>&1
}
run() { # name snapshot planargs...
  local n=$1 s=$2; shift 2
  # Both sides failing to read a missing snapshot would compare equal.
  [ -f "$s" ] || { echo "error: snapshot $s not found (cargo bench --bench plan_scale writes target/bench)" >&2; exit 2; }
  "$BIN" plan --state "$s" --allow-offline -o "$OUT/$n.plan.json" --rollback "$OUT/$n.rb.json" --output json "$@" > "$OUT/$n.sum.json" 2>"$OUT/$n.err"
  echo "$n rc=$?" >> "$OUT/rc.txt"
}
cases() {
  if [ "$WHICH" = small ] || [ "$WHICH" = all ]; then
  for seed in 1 2; do
    snap A$seed --broker-count 30 --partitions 5000 --even-racks --dead-brokers 0 --seed $seed
    snap B$seed --broker-count 30 --partitions 5000 --even-racks --rf3 --dead-brokers 0 --seed $seed
    snap D$seed --broker-count 30 --partitions 5000 --rack-count 0 --dead-brokers 1 --seed $seed
    snap E$seed --broker-count 30 --partitions 5000 --even-racks --seed $seed
    snap F$seed --broker-count 30 --partitions 5000 --rack-count 4 --dead-brokers 0 --seed $seed
    snap G$seed --broker-count 30 --partitions 5000 --seed $seed
    snap K$seed --broker-count 8 --rack-count 4 --even-racks --dead-brokers 2 --partitions 859 --seed $seed
    for c in A B D E F G K; do run $c$seed $S/$c$seed.json --seed $seed; done
    run H$seed $S/A$seed.json --seed $seed --remove-brokers 1,2,3
    run I$seed $S/E$seed.json --seed $seed --objective size
    run J$seed $S/G$seed.json --seed $seed --objective size
    run M$seed $S/G$seed.json --seed $seed --max-moves 300
    run N$seed $S/E$seed.json --seed $seed --max-bytes 2GiB
    run O$seed $S/G$seed.json --seed $seed --objective size --max-moves 200
    run P$seed $S/A$seed.json --seed $seed --ignore-racks --no-leader-balance
    run Q$seed $S/A$seed.json --seed $seed --brokers 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20
  done
  snap C1 --broker-count 60 --rack-count 6 --partitions 30000 --rf3 --even-racks --dead-brokers 0 --seed 1
  run C1 $S/C1.json --seed 1
  snap X913 --broker-count 4 --rack-count 3 --growth-steps 1 --partitions 745 --dead-brokers 0 --seed 913
  run X913 $S/X913.json --seed 913
  snap X159 --broker-count 12 --rack-count 4 --growth-steps 1 --partitions 296 --dead-brokers 0 --rf3 --seed 159
  run X159 $S/X159.json --seed 159
  snap X279 --broker-count 7 --rack-count 3 --growth-steps 1 --partitions 360 --dead-brokers 1 --seed 279
  run X279 $S/X279.json --seed 279 --objective size
  snap X881 --broker-count 7 --rack-count 3 --growth-steps 1 --partitions 569 --seed 881
  run X881 $S/X881.json --seed 881 --objective size
  snap L1 --broker-count 100 --rack-count 5 --partitions 66000 --seed 1
  run L1 $S/L1.json --seed 1
  run L1s $S/L1.json --seed 1 --objective size
  snap BIG1 --broker-count 300 --rack-count 6 --growth-steps 3 --partitions 1000000 --dead-brokers 2 --seed 1
  run BIG1 $S/BIG1.json --seed 1
  # plans/ examples
  P=$ROOT/plans
  run ex-add $P/cluster-with-new-broker.json
  run ex-drain $P/cluster.json --remove-brokers 2
  run ex-rf $P/cluster.json --topics payments --replication-factor 3
  fi
  B=$ROOT/target/bench
  if [ "$WHICH" = bench ] || [ "$WHICH" = all ]; then
    run bench-large $B/large-1000000.json
    run bench-uneven $B/uneven-1000000.json
  fi
  if [ "$WHICH" = huge ] || [ "$WHICH" = all ]; then
    run bench-huge $B/huge-2000000.json
  fi
}
REF_BIN=$1
for side in ref new; do
  BIN=$1; [ $side = new ] && BIN=$2
  OUT=$WORK/$side
  rm -rf "$OUT"; mkdir -p "$OUT"
  cases
done
a=$WORK/ref; b=$WORK/new; same=0; diff=0
for f in "$a"/*.plan.json "$a"/*.rb.json "$a"/*.sum.json; do
  [ -f "$f" ] || continue
  n=$(basename "$f")
  case $n in
    *.sum.json) cmp -s <(sed "s#$a#OUT#g" "$f") <(sed "s#$b#OUT#g" "$b/$n") ;;
    *) cmp -s "$f" "$b/$n" ;;
  esac
  if [ $? = 0 ]; then same=$((same+1)); else diff=$((diff+1)); echo "DIFF $n"; fi
done
cmp -s "$a/rc.txt" "$b/rc.txt" || { diff=$((diff+1)); echo "DIFF exit codes"; diff "$a/rc.txt" "$b/rc.txt"; }
echo "identical $same, different $diff"
[ $diff = 0 ]
