#!/usr/bin/env python3
"""A linear relaxation for clusters too large for exact.py: the fewest
replica moves of any placement with topic excess (plan-check's measure) at
most E and every broker within floor..ceil of its ideal, counted per topic
and broker (each rack holding between sum(floor(rf/K)) and sum(ceil(rf/K))
of a topic). A lower bound on the moves any such plan needs.

usage: relaxed.py state.json E [exclude,ids]   (needs scipy)"""
import json, math, sys
from collections import Counter, defaultdict
import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
st = json.load(open(sys.argv[1])); E = int(sys.argv[2])
EXC = {int(x) for x in sys.argv[3].split(",")} if len(sys.argv) > 3 else set()
rack = {b["id"]: b.get("rack") for b in st["brokers"]}
tgt = sorted(b["id"] for b in st["brokers"] if b.get("alive", True) and b["id"] not in EXC)
n_r = Counter(rack[b] for b in tgt); K = len(n_r); B = len(tgt)
def rack_ideal(rfs):
    tot = sum(rfs); lo = sum(rf // K for rf in rfs); hi = sum(-(-rf // K) for rf in rfs)
    a_, b_ = 0.0, float(tot)
    for _ in range(60):
        mid = (a_ + b_) / 2
        if sum(min(max(n * mid, lo), hi) for n in n_r.values()) < tot: a_ = mid
        else: b_ = mid
    x = {R: min(max(n * b_, lo), hi) for R, n in n_r.items()}
    return {b: x[rack[b]] / n_r[rack[b]] for b in tgt}
rfs = defaultdict(list); c = defaultdict(Counter)
for t in st["topics"]:
    for p in t["partitions"]:
        rfs[t["name"]].append(len(p["replicas"]))
        for b in p["replicas"]: c[t["name"]][b] += 1
ideal = rack_ideal([r for v in rfs.values() for r in v])
topics = sorted(rfs)
idx = {}
for t in topics:
    for b in tgt: idx[(t, b)] = len(idx)
N = len(idx); nv = 2 * N  # x then a
rows, cols, vals, rhs = [], [], [], []; r = 0
eqr, eqc, eqv, eqb = [], [], [], []; q = 0
ub = [None] * nv
for t in topics:
    ti = rack_ideal(rfs[t]); tot = sum(rfs[t])
    for b in tgt:
        i = idx[(t, b)]
        ub[i] = min(math.ceil(ti[b] - 1e-9) + E, len(rfs[t]))
        # x - a <= c
        rows += [r, r]; cols += [i, N + i]; vals += [1, -1]; rhs.append(c[t][b]); r += 1
    for b in tgt: eqr.append(q); eqc.append(idx[(t, b)]); eqv.append(1)
    eqb.append(tot); q += 1
    lo = sum(x // K for x in rfs[t]); hi = sum(-(-x // K) for x in rfs[t])
    for R in n_r:
        bs = [idx[(t, b)] for b in tgt if rack[b] == R]
        for i in bs: rows.append(r); cols.append(i); vals.append(1)
        rhs.append(hi); r += 1
        for i in bs: rows.append(r); cols.append(i); vals.append(-1)
        rhs.append(-lo); r += 1
for b in tgt:
    bs = [idx[(t, b)] for t in topics]
    for i in bs: rows.append(r); cols.append(i); vals.append(1)
    rhs.append(math.ceil(ideal[b] - 1e-9)); r += 1
    for i in bs: rows.append(r); cols.append(i); vals.append(-1)
    rhs.append(-math.floor(ideal[b] + 1e-9)); r += 1
Au = coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr()
Ae = coo_matrix((eqv, (eqr, eqc)), shape=(q, nv)).tocsr()
cost = np.zeros(nv); cost[N:] = 1
res = linprog(cost, A_ub=Au, b_ub=np.array(rhs, float), A_eq=Ae, b_eq=np.array(eqb, float),
              bounds=[(0, u) for u in ub[:N]] + [(0, None)] * N, method="highs")
print(sys.argv[1], "E", E, "status", res.status, "moves", round(res.fun, 1) if res.status == 0 else None)
