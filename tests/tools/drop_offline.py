#!/usr/bin/env python3
"""A snapshot without its offline partitions, for the referees.

A partition with no in-sync replica on a live broker (RF 1 on a dead broker, say)
cannot be healed by any move, so `plan` leaves it out of the plan and out
of its figures. The referees (plan-check, exact.py) would count its
replicas as ones to move off the dead broker; given this snapshot they
judge what a plan can move, as the property tests do (`Cluster::without`
of `Cluster::offline_mask`). Topics left with no partition are dropped.

usage: drop_offline.py IN OUT   (either may be -: standard input / output)
Prints how many partitions were dropped on stderr. Standard library only.
"""
import json, os, sys


def can_lead(p, alive):
    """A live leader, or a live in-sync replica to elect (Partition::can_lead;
    without `isr` every replica is in sync, without `leader` the first leads)."""
    leader = p.get("leader", p["replicas"][0] if p["replicas"] else -1)
    return leader in alive or any(r in alive for r in p.get("isr", p["replicas"]))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-2])
    src, dst = sys.argv[1], sys.argv[2]
    if "-" not in (src, dst) and os.path.exists(dst) and os.path.samefile(src, dst):
        sys.exit(f"drop_offline.py: OUT {dst} is IN: the snapshot would be lost")
    with (sys.stdin if src == "-" else open(src, encoding="utf-8-sig")) as f:
        s = json.load(f)
    alive = {b["id"] for b in s["brokers"] if b.get("alive", True)}
    topics, dropped = [], 0
    for t in s["topics"]:
        kept = [p for p in t["partitions"] if can_lead(p, alive)]
        dropped += len(t["partitions"]) - len(kept)
        if kept:
            topics.append({**t, "partitions": kept})
    s["topics"] = topics
    text = json.dumps(s, separators=(",", ":"))
    if dst == "-":
        sys.stdout.write(text)
    else:
        with open(dst, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"dropped {dropped} offline partitions", file=sys.stderr)


if __name__ == "__main__":
    main()
