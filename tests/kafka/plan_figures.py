#!/usr/bin/env python3
"""What a reassignment plan would move, measured against a cluster snapshot.

usage: plan_figures.py --state snapshot.json --plan plan.json [--label NAME]
       plan_figures.py --extract-generate generate.out --current C.json --proposed P.json

The first form prints JSON: partitions in the plan, partitions whose replica
set changes, replicas moved (replicas added to a partition = replicas that
must be copied), bytes moved (sum of size_bytes per added replica),
preferred-leader changes, and replicas per broker before and after.

The second form splits the output of `kafka-reassign-partitions --generate`
(two headed JSON lines: current assignment, proposed assignment) into files.
Standard library only.
"""
import argparse
import json
import sys
from collections import Counter


def load(path):
    with open(path) as f:
        return json.load(f)


def figures(state, plan, label=None):
    cur = {}
    for t in state["topics"]:
        for p in t["partitions"]:
            cur[(t["name"], p["partition"])] = p
    after = {k: list(p["replicas"]) for k, p in cur.items()}
    parts_changed = replicas_moved = bytes_moved = leaders_changed = 0
    unknown = []
    for e in plan.get("partitions", []):
        key = (e["topic"], e["partition"])
        if key not in cur:
            unknown.append(f"{key[0]}-{key[1]}")
            continue
        old = cur[key]["replicas"]
        new = e["replicas"]
        added = [b for b in new if b not in old]
        if set(new) != set(old):
            parts_changed += 1
        replicas_moved += len(added)
        bytes_moved += len(added) * int(cur[key].get("size_bytes", 0))
        if new and old and new[0] != old[0]:
            leaders_changed += 1
        after[key] = list(new)

    def per_broker(assign):
        c = Counter(b for reps in assign.values() for b in reps)
        return {str(b): c[b] for b in sorted(c)}

    def leaders(assign):
        c = Counter(reps[0] for reps in assign.values() if reps)
        return {str(b): c[b] for b in sorted(c)}

    def bytes_per_broker(assign):
        c = Counter()
        for k, reps in assign.items():
            for b in reps:
                c[b] += int(cur[k].get("size_bytes", 0))
        return {str(b): c[b] for b in sorted(c)}

    before = {k: list(p["replicas"]) for k, p in cur.items()}
    out = {
        "plan": label,
        "partitions_in_plan": len(plan.get("partitions", [])),
        "partitions_changed": parts_changed,
        "replicas_moved": replicas_moved,
        "bytes_moved": bytes_moved,
        "preferred_leaders_changed": leaders_changed,
        "total_replicas": sum(len(r) for r in before.values()),
        "total_bytes": sum(int(p.get("size_bytes", 0)) * len(p["replicas"]) for p in cur.values()),
        "replicas_per_broker_before": per_broker(before),
        "replicas_per_broker_after": per_broker(after),
        "bytes_per_broker_before": bytes_per_broker(before),
        "bytes_per_broker_after": bytes_per_broker(after),
        "preferred_leaders_after": leaders(after),
    }
    if unknown:
        out["unknown_partitions"] = unknown
    return out


def extract_generate(text):
    """Return (current, proposed) JSON objects from --generate output."""
    cur = prop = None
    want = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Current partition replica assignment"):
            want = "cur"
        elif s.startswith("Proposed partition reassignment configuration"):
            want = "prop"
        elif s.startswith("{") and want:
            if want == "cur":
                cur = json.loads(s)
            else:
                prop = json.loads(s)
            want = None
    if cur is None or prop is None:
        raise SystemExit("plan_figures.py: could not find both JSON lines in --generate output")
    return cur, prop


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state")
    ap.add_argument("--plan")
    ap.add_argument("--label")
    ap.add_argument("--extract-generate")
    ap.add_argument("--current")
    ap.add_argument("--proposed")
    a = ap.parse_args()
    if a.extract_generate:
        with open(a.extract_generate) as f:
            cur, prop = extract_generate(f.read())
        for path, obj in ((a.current, cur), (a.proposed, prop)):
            if path:
                with open(path, "w") as f:
                    json.dump(obj, f, separators=(",", ":"))
                    f.write("\n")
        return
    if not (a.state and a.plan):
        ap.error("--state and --plan are required")
    json.dump(figures(load(a.state), load(a.plan), a.label), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
