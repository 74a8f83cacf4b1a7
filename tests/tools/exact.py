#!/usr/bin/env python3
"""Exact referee for small clusters: the fewest replica moves any plan can
make, found by an integer program (HiGHS through scipy), with plan-check's
own definitions (rack-aware ideal per broker, a topic's own share per
broker, rack safety as min(rf, racks) racks per partition).

plan-check's lower bound is a relaxation: where it ignores that a partition
holds a broker once, or that two replicas of one partition cannot both take
the one rack left free, it can sit well below what any plan can reach (tiny
racked clusters healing dead brokers). This finds the true optimum, so a
plan can be judged against what is possible.

usage: exact.py --state S [--exclude 4,5] [--count-slack 1]
                [--excess-slack E] [--deficit-slack D] [--least-imbalance]
                [--least-bytes [--topic-excess E]]
                [--leader-spread N] [--within MOVES] [--time-limit 60]

--count-slack  replicas per broker allowed outside floor..ceil of the ideal
               (1 is the bar's own tolerance: excess and deficit at most 1)
--excess-slack, --deficit-slack  the same for one side only
--least-imbalance  also find the least replica excess any placement can
               reach, and the least deficit with that excess (plan-check's
               ideal can be out of reach: it lets two racks each hold a
               replica of every partition, RF 1 ones too)
--least-bytes  also find the least bytes_max_over_ideal (plan-check's
               measure) of any placement with counts in the range above,
               moves aside; at the time limit, the solver's proven floor
--topic-excess  with --least-bytes: only placements whose topic excess
               (plan-check's measure) is at most this
--leader-spread  also require preferred leaders spread within N (the
               first replica of each partition, chosen freely among its
               replicas)
--within       also find the least topic excess (plan-check's measure) of
               any plan that moves at most MOVES replicas

Prints JSON: optimum_moves (null if infeasible); with --within,
least_topic_excess and moves_at_least_topic_excess; with
--least-imbalance, least_excess and least_deficit; with --least-bytes,
least_bytes_over_ideal.
"""
import argparse, json, math, sys
from collections import Counter, defaultdict

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix


def append_row(program, entries, weights, low, high):
    # program: (rows, cols, vals, low, high) of a sparse constraint matrix
    r0, c0, v0, l0, h0 = program
    r = len(l0)
    for k, w in zip(entries, weights):
        r0.append(r); c0.append(k); v0.append(w)
    l0.append(low); h0.append(high)


def solve_milp(program, c, integrality, upper, time_limit):
    r0, c0, v0, l0, h0 = program
    A = coo_matrix((v0, (r0, c0)), shape=(len(l0), len(c))).tocsr()
    return milp(c, constraints=LinearConstraint(A, l0, h0), integrality=integrality,
                bounds=Bounds(0, upper), options={"time_limit": time_limit})


def value_or_floor(res):
    # the optimum; at the time limit the solver's proven floor; None when
    # there is no solution (or no finite floor)
    if res.status == 1:
        floor = res.mip_dual_bound
        return floor if floor is not None and math.isfinite(floor) else None
    return None if res.x is None else res.fun


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--exclude", default="")
    ap.add_argument("--count-slack", type=int, default=1)
    ap.add_argument("--excess-slack", type=int)
    ap.add_argument("--deficit-slack", type=int)
    ap.add_argument("--least-imbalance", action="store_true")
    ap.add_argument("--least-bytes", action="store_true")
    ap.add_argument("--topic-excess", type=int)
    ap.add_argument("--within", type=int)
    ap.add_argument("--leader-spread", type=int)
    ap.add_argument("--time-limit", type=float, default=60)
    a = ap.parse_args()
    st = json.load(open(a.state))
    exclude = {int(x) for x in a.exclude.split(",") if x}
    rack = {b["id"]: b.get("rack") for b in st["brokers"]}
    tgt = sorted(b["id"] for b in st["brokers"] if b.get("alive", True) and b["id"] not in exclude)
    n_r = Counter(rack[b] for b in tgt)
    use_racks = None not in n_r and len(n_r) > 1
    K, B = len(n_r), len(tgt)

    def rack_ideal(rfs):
        # plan-check's water-filling over racks
        tot = sum(rfs)
        if not use_racks:
            return {b: tot / B for b in tgt}
        lo = sum(rf // K for rf in rfs)
        hi = sum(-(-rf // K) for rf in rfs)
        x0, x1 = 0.0, float(tot)
        for _ in range(60):
            mid = (x0 + x1) / 2
            if sum(min(max(n * mid, lo), hi) for n in n_r.values()) < tot:
                x0 = mid
            else:
                x1 = mid
        x = {R: min(max(n * x1, lo), hi) for R, n in n_r.items()}
        return {b: x[rack[b]] / n_r[rack[b]] for b in tgt}

    parts, sizes, rfs = [], [], defaultdict(list)
    for t in st["topics"]:
        for p in t["partitions"]:
            parts.append((t["name"], p["replicas"]))
            sizes.append(p.get("size_bytes", 0))
            rfs[t["name"]].append(len(p["replicas"]))
    ideal = rack_ideal([len(r) for _, r in parts])
    shares = {t: rack_ideal(v) for t, v in rfs.items()}
    by_topic = defaultdict(list)
    for i, (t, _) in enumerate(parts):
        by_topic[t].append(i)

    # x[i, j] = 1 when partition i has a replica on target j; with a
    # leader spread, y[i, j] = 1 when target j leads partition i, and one
    # integer m with m <= leaders(j) <= m + spread
    P = len(parts)
    lead = a.leader_spread is not None
    n = P * B * (2 if lead else 1) + (1 if lead else 0)
    col = lambda i, j: i * B + j
    ycol = lambda i, j: P * B + i * B + j
    mcol = n - 1
    cost = np.zeros(n)
    for i in range(P):
        for j in range(B):
            if tgt[j] not in parts[i][1]:
                cost[col(i, j)] = 1.0
    rows, cols, vals, lo, hi = [], [], [], [], []

    def add(entries, low, high, weights=None):
        append_row((rows, cols, vals, lo, hi), entries, weights or [1.0] * len(entries), low, high)

    if lead:
        for i in range(P):
            add([ycol(i, j) for j in range(B)], 1, 1)
            for j in range(B):
                add([ycol(i, j), col(i, j)], -1, 0, [1.0, -1.0])
        for j in range(B):
            led = [ycol(i, j) for i in range(P)]
            add(led + [mcol], 0, np.inf, [1.0] * P + [-1.0])
            add(led + [mcol], -np.inf, a.leader_spread, [1.0] * P + [-1.0])

    for i, (_, reps) in enumerate(parts):
        add([col(i, j) for j in range(B)], len(reps), len(reps))
        if use_racks:
            per_rack = -(-len(reps) // K)
            for R in n_r:
                add([col(i, j) for j, b in enumerate(tgt) if rack[b] == R], 0, per_rack)
    # the placement rows alone, for --least-imbalance
    placement = (list(rows), list(cols), list(vals), list(lo), list(hi))
    up = a.count_slack if a.excess_slack is None else a.excess_slack
    down = a.count_slack if a.deficit_slack is None else a.deficit_slack
    count_range = [(max(0, math.floor(ideal[b] + 1e-9) - down), math.ceil(ideal[b] - 1e-9) + up)
                   for b in tgt]
    for j, b in enumerate(tgt):
        add([col(i, j) for i in range(len(parts))], *count_range[j])

    def run(program, c, extra=None):
        # program: rows over the placement columns (0..n) and, with
        # `extra` ("integer" or "real"), one more variable s at column n,
        # unbounded above; minimize c
        width = n + (extra is not None)
        integrality = np.ones(width)
        upper = np.ones(width)
        if extra is not None:
            integrality[n] = extra == "integer"
            upper[n] = np.inf
        if lead:
            upper[mcol] = P
        return solve_milp(program, c, integrality, upper, a.time_limit)

    def minimize_extra(base, extra, integral):
        # base rows, plus rows (entries, weights, low, high) over the
        # placement and one extra variable s (column n): minimize s
        program = tuple(list(x) for x in base)
        for row in extra:
            append_row(program, *row)
        c = np.zeros(n + 1); c[n] = 1.0
        return run(program, c, "integer" if integral else "real")

    def least(side, excess=None):
        # every count within s of its range on one side; the other side
        # free, or with the deficit, held to at most `excess` over
        extra = []
        for j, b in enumerate(tgt):
            low, high = (-np.inf, math.ceil(ideal[b] - 1e-9)) if side > 0 else (math.floor(ideal[b] + 1e-9), np.inf)
            extra.append(([col(i, j) for i in range(P)] + [n], [1.0] * P + [-side], low, high))
            if excess is not None:
                extra.append(([col(i, j) for i in range(P)], [1.0] * P, -np.inf, math.ceil(ideal[b] - 1e-9) + excess))
        res = minimize_extra(placement, extra, True)
        if res.status == 1:
            sys.exit("exact.py: time limit reached")
        return None if res.x is None else int(round(res.fun))

    def least_bytes():
        # s = the largest bytes / byte share, counts as set above; sizes in
        # units of the mean broker's bytes so the coefficients stay near 1
        total_bytes = sum(z * len(reps) for z, (_, reps) in zip(sizes, parts))
        total = sum(len(reps) for _, reps in parts)
        unit = total_bytes / B or 1.0
        share = {b: total_bytes * ideal[b] / total / unit for b in tgt}
        extra = [([col(i, j) for i in range(P)] + [n],
                  [z / unit for z in sizes] + [-share[b]], -np.inf, 0.0)
                 for j, b in enumerate(tgt)]
        # The racks' own bound holds for every placement, so the full
        # program may start from it: where a pinned rack decides the
        # answer, the solver then proves it instead of stopping at its
        # time limit with a looser floor.
        floor = rack_bytes(unit, share)
        extra.append(([n], [1.0], floor or 0.0, np.inf))
        least = value_or_floor(minimize_extra(with_topics(a.topic_excess), extra, False))
        return None if least is None else round(least, 4)

    def rack_bytes(unit, share):
        # A relaxation with one integer per partition and rack (how many of
        # its replicas the rack holds) and the racks' count ranges summed
        # over their brokers: the largest rack bytes / rack share, which no
        # broker's ratio can be below. None without racks or on no solution.
        if not use_racks:
            return None
        racks = sorted(n_r)
        members = {R: [j for j, b in enumerate(tgt) if rack[b] == R] for R in racks}
        width = P * K + 1
        zc = lambda i, k: i * K + k
        program = ([], [], [], [], [])
        row = lambda *args: append_row(program, *args)
        upper = np.ones(width) * np.inf
        for i, (_, reps) in enumerate(parts):
            row([zc(i, k) for k in range(K)], [1.0] * K, len(reps), len(reps))
            for k, R in enumerate(racks):
                upper[zc(i, k)] = min(-(-len(reps) // K), n_r[R])
        for k, R in enumerate(racks):
            # the count rows of the full program, summed over the rack
            low = sum(count_range[j][0] for j in members[R])
            high = sum(count_range[j][1] for j in members[R])
            row([zc(i, k) for i in range(P)], [1.0] * P, low, high)
            rack_share = sum(share[tgt[j]] for j in members[R])
            row([zc(i, k) for i in range(P)] + [width - 1],
                [z / unit for z in sizes] + [-rack_share], -np.inf, 0.0)
        c = np.zeros(width); c[-1] = 1.0
        integrality = np.ones(width); integrality[-1] = 0
        return value_or_floor(solve_milp(program, c, integrality, upper, a.time_limit))

    def with_topics(excess):
        # the rows so far, plus every topic within its share + excess per broker
        program = (list(rows), list(cols), list(vals), list(lo), list(hi))
        if excess is not None:
            for t, idx in by_topic.items():
                for j, b in enumerate(tgt):
                    append_row(program, [col(i, j) for i in idx], [1.0] * len(idx),
                               0, math.ceil(shares[t][b] - 1e-9) + excess)
        return program

    def solve(excess):
        res = run(with_topics(excess), cost)
        if res.status == 1:
            sys.exit("exact.py: time limit reached")
        return None if res.x is None else int(round(res.fun))

    out = {"optimum_moves": solve(None)}
    if a.least_imbalance:
        # the least deficit of a placement with the least excess: the two
        # together, as one plan must have them
        out["least_excess"] = least(1)
        out["least_deficit"] = least(-1, out["least_excess"])
    if a.least_bytes:
        out["least_bytes_over_ideal"] = least_bytes()
    if a.within is not None and out["optimum_moves"] is not None and out["optimum_moves"] <= a.within:
        # least topic excess within the move limit: binary search
        top = max(len(v) for v in rfs.values())
        low, high, best = 0, top, None
        while low <= high:
            mid = (low + high) // 2
            m = solve(mid)
            if m is not None and m <= a.within:
                best, high = (mid, m), mid - 1
            else:
                low = mid + 1
        out["least_topic_excess"] = best[0] if best else None
        out["moves_at_least_topic_excess"] = best[1] if best else None
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
