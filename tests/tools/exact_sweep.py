#!/usr/bin/env python3
"""Random small clusters (like the property tests): the plan against the
exact referee. For each: the referee's bound, the exact optimum with the
bar's count tolerance, the plan's moves and the limit (1.02 x the larger),
the plan's topic excess and the least any plan within the limit can reach
with counts in range, and the leader spread; flags what misses.

usage: tests/tools/exact_sweep.py SEED N   (from the repository root, after
       cargo build --release; needs scipy and ../shared/tools/plan-check)"""
import json, os, random, subprocess, sys, tempfile
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KM = os.path.join(ROOT, "target/release/kafka-migrate")
PC = os.path.join(ROOT, "../shared/tools/plan-check")
EX = os.path.join(ROOT, "tests/tools/exact.py")
TMP = tempfile.mkdtemp()
rnd = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
for i in range(n):
    brokers = rnd.randint(4, 16); racks = rnd.choice([0, 2, 3, 4]); racks = min(racks, brokers)
    args = ["--broker-count", str(brokers), "--rack-count", str(racks), "--growth-steps", str(rnd.randint(1, 3)),
            "--partitions", str(rnd.randint(200, 900)), "--dead-brokers", str(rnd.randint(0, 1)), "--seed", str(rnd.randint(0, 999))]
    if rnd.random() < 0.5: args.append("--even-racks")
    if rnd.random() < 0.3: args.append("--rf3")
    st, pl = f"{TMP}/s{i}.json", f"{TMP}/p{i}.json"
    subprocess.run([KM, "gen-snapshot", "-o", st] + args, check=True, capture_output=True)
    subprocess.run([KM, "plan", "--state", st, "--allow-offline", "-o", pl], capture_output=True)
    # Partitions with no live in-sync replica stay out of every plan; the referees
    # judge the rest.
    online = st + ".online"
    subprocess.run([os.path.join(ROOT, "tests/tools/drop_offline.py"), st, online], capture_output=True, check=True)
    st = online
    d = json.loads(subprocess.run([PC, "--state", st, "--plan", pl], capture_output=True, text=True).stdout)
    lb, moved, te, ls = d["replica_moves_lower_bound"], d["replicas_moved"], d["topic_excess_after"], d["leader_spread_after"]
    o1 = json.loads(subprocess.run([sys.executable, EX, "--state", st, "--count-slack", "1", "--time-limit", "120"], capture_output=True, text=True).stdout or "{}")
    opt = o1.get("optimum_moves")
    if opt is None: print(i, args, "exact failed"); continue
    limit = max(opt, lb) * 102 // 100
    o0 = json.loads(subprocess.run([sys.executable, EX, "--state", st, "--count-slack", "0", "--within", str(limit), "--time-limit", "120"], capture_output=True, text=True).stdout or "{}")
    least = o0.get("least_topic_excess")
    flag = ("MOVES " if moved > limit else "") + ("TOPIC " if least is not None and te > max(least, 1) else "") + ("LEAD " if ls > 2 else "")
    print(i, " ".join(args), f"| lb {lb} opt {opt} moved {moved} limit {limit} | topic {te} least {least} | lead {ls} {d['leader_spread_before']} | {flag}", flush=True)
