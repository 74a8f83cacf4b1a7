//! Lower bounds on the replica moves any plan needs: the planner steers by
//! them and the summary reports against them. Pure.

/// Above this many replicas the flow bound is skipped (it gets slow); the
/// simple bound stands.
pub const FLOW_BOUND_MAX_REPLICAS: u64 = 200_000;

/// The fewest replica moves that leave every target broker within its
/// quota when a replica may only go to a rack that keeps its partition
/// spanning `min(rf, racks)` racks (judged against the other replicas'
/// starting racks). A min-cost flow: source -> broker -> (broker, allowed
/// racks) -> target broker -> sink, where staying costs 0, moving 1, and
/// every unit up to a broker's floor earns a large reward so floors fill
/// first. It ignores that a partition cannot hold a broker twice, so it is
/// a lower bound. `None` when no assignment fits the quotas.
pub fn flow_bound(
    before: &[Vec<usize>],
    rack: &[Option<usize>],
    target_racks: &[usize],
    is_target: &[bool],
    quota: &[(u64, u64)],
) -> Option<u64> {
    use std::collections::BTreeMap;
    let nb = rack.len();
    let k = target_racks.len().max(1);
    // (broker, allowed racks as a bit set over target_racks) -> replicas.
    let mut classes: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    let mut held = vec![0i64; nb];
    for reps in before {
        let need = reps.len().min(k);
        for (i, &u) in reps.iter().enumerate() {
            let others: Vec<Option<usize>> = reps
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &x)| rack[x])
                .collect();
            let mut allowed = 0u64;
            for (bit, &r) in target_racks.iter().enumerate().take(64) {
                let mut spread: Vec<Option<usize>> = others.clone();
                spread.push(Some(r));
                spread.sort_unstable();
                spread.dedup();
                if spread.iter().flatten().count() >= need {
                    allowed |= 1 << bit;
                }
            }
            *classes.entry((u, allowed)).or_default() += 1;
            held[u] += 1;
        }
    }
    let mut g = Flow::default();
    let (s, t) = (g.node(), g.node());
    let out: Vec<usize> = (0..nb).map(|_| g.node()).collect();
    let into: Vec<usize> = (0..nb).map(|_| g.node()).collect();
    for u in 0..nb {
        if held[u] > 0 {
            g.edge(s, out[u], held[u], 0);
        }
    }
    for (&(u, allowed), &n) in &classes {
        let c = g.node();
        g.edge(out[u], c, n, 0);
        if is_target[u] {
            g.edge(c, into[u], n, 0);
        }
        for v in 0..nb {
            let ok = is_target[v]
                && v != u
                && rack[v]
                    .and_then(|r| target_racks.iter().position(|&x| x == r))
                    .is_some_and(|bit| bit < 64 && allowed & (1 << bit) != 0);
            if ok {
                g.edge(c, into[v], n, 1);
            }
        }
    }
    const BIG: i64 = 1 << 32;
    let mut floors = 0i64;
    for v in (0..nb).filter(|&v| is_target[v]) {
        let (lo, hi) = quota[v];
        floors += lo as i64;
        g.edge(into[v], t, lo as i64, -BIG);
        if hi > lo {
            g.edge(into[v], t, (hi - lo) as i64, 0);
        }
    }
    let total: i64 = held.iter().sum();
    let (flow, cost) = g.min_cost_flow(s, t);
    (flow == total).then(|| (cost + BIG * floors).max(0) as u64)
}

/// A small min-cost flow (successive shortest paths, Bellman-Ford queue).
#[derive(Default)]
struct Flow {
    adj: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<i64>,
    cost: Vec<i64>,
}

impl Flow {
    fn node(&mut self) -> usize {
        self.adj.push(Vec::new());
        self.adj.len() - 1
    }

    fn edge(&mut self, u: usize, v: usize, cap: i64, cost: i64) {
        for (a, b, c, w) in [(u, v, cap, cost), (v, u, 0, -cost)] {
            self.adj[a].push(self.to.len());
            self.to.push(b);
            self.cap.push(c);
            self.cost.push(w);
        }
    }

    fn min_cost_flow(&mut self, s: usize, t: usize) -> (i64, i64) {
        let n = self.adj.len();
        let (mut flow, mut total) = (0i64, 0i64);
        loop {
            let mut dist = vec![i64::MAX; n];
            let mut queued = vec![false; n];
            let mut via = vec![usize::MAX; n];
            dist[s] = 0;
            let mut queue = std::collections::VecDeque::from([s]);
            while let Some(u) = queue.pop_front() {
                queued[u] = false;
                for &e in &self.adj[u] {
                    let v = self.to[e];
                    if self.cap[e] > 0 && dist[u] + self.cost[e] < dist[v] {
                        dist[v] = dist[u] + self.cost[e];
                        via[v] = e;
                        if !queued[v] {
                            queued[v] = true;
                            queue.push_back(v);
                        }
                    }
                }
            }
            if dist[t] == i64::MAX {
                return (flow, total);
            }
            let mut push = i64::MAX;
            let mut v = t;
            while v != s {
                let e = via[v];
                push = push.min(self.cap[e]);
                v = self.to[e ^ 1];
            }
            let mut v = t;
            while v != s {
                let e = via[v];
                self.cap[e] -= push;
                self.cap[e ^ 1] += push;
                v = self.to[e ^ 1];
            }
            flow += push;
            total += push * dist[t];
        }
    }
}
