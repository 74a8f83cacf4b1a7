//! A min-cost flow for the planner's bounds and its topic transport.
//!
//! Primal-dual: node potentials keep reduced costs non-negative, Dijkstra
//! finds the next shortest distance, and a blocking flow (Dinic) pushes
//! every path of that length at once. The graphs here have costs of 0 and
//! 1 plus a large reward for lower bounds, so there are few distinct path
//! lengths and few rounds, however many units flow.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A reward large enough that a flow takes every unit it earns before
/// anything else: how lower bounds are written here.
pub const BIG: i64 = 1 << 32;

/// Capacity that never binds.
pub const INF: i64 = i64::MAX / 4;

#[derive(Default)]
pub struct Flow {
    adj: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<i64>,
    cost: Vec<i64>,
}

impl Flow {
    pub fn node(&mut self) -> usize {
        self.adj.push(Vec::new());
        self.adj.len() - 1
    }

    /// Adds an edge and returns its index, for [`Flow::flow_on`].
    pub fn edge(&mut self, u: usize, v: usize, cap: i64, cost: i64) -> usize {
        let index = self.to.len();
        for (a, b, c, w) in [(u, v, cap, cost), (v, u, 0, -cost)] {
            self.adj[a].push(self.to.len());
            self.to.push(b);
            self.cap.push(c);
            self.cost.push(w);
        }
        index
    }

    /// Units flowing over edge `e` (its reverse edge's residual).
    pub fn flow_on(&self, e: usize) -> i64 {
        self.cap[e ^ 1]
    }

    /// Capacity edge `e` has left.
    pub fn left_on(&self, e: usize) -> i64 {
        self.cap[e]
    }

    /// Pushes the most flow from `s` to `t` at the least cost; returns
    /// (flow, cost). The graph must have no negative cycle.
    pub fn min_cost_flow(&mut self, s: usize, t: usize) -> (i64, i64) {
        let mut h = self.initial_potentials(s);
        let (mut flow, mut total) = (0i64, 0i64);
        loop {
            let dist = self.dijkstra(s, &h);
            let Some(reach) = dist[t] else {
                return (flow, total);
            };
            for (hv, d) in h.iter_mut().zip(&dist) {
                *hv += d.map_or(reach, |d| d.min(reach));
            }
            let pushed = self.blocking_flow(s, t, &h);
            flow += pushed;
            total += pushed * (h[t] - h[s]);
        }
    }

    /// Shortest distances from `s` with negative costs allowed (a queue
    /// Bellman-Ford); unreachable nodes get 0, and stay unreachable.
    fn initial_potentials(&self, s: usize) -> Vec<i64> {
        let n = self.adj.len();
        let mut dist = vec![i64::MAX; n];
        let mut queued = vec![false; n];
        dist[s] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            queued[u] = false;
            for &e in &self.adj[u] {
                let v = self.to[e];
                if self.cap[e] > 0 && dist[u] + self.cost[e] < dist[v] {
                    dist[v] = dist[u] + self.cost[e];
                    if !queued[v] {
                        queued[v] = true;
                        queue.push_back(v);
                    }
                }
            }
        }
        dist.into_iter()
            .map(|d| if d == i64::MAX { 0 } else { d })
            .collect()
    }

    fn reduced(&self, e: usize, u: usize, h: &[i64]) -> i64 {
        self.cost[e] + h[u] - h[self.to[e]]
    }

    fn dijkstra(&self, s: usize, h: &[i64]) -> Vec<Option<i64>> {
        let n = self.adj.len();
        let mut dist: Vec<Option<i64>> = vec![None; n];
        let mut done = vec![false; n];
        let mut heap = BinaryHeap::from([Reverse((0i64, s))]);
        dist[s] = Some(0);
        while let Some(Reverse((d, u))) = heap.pop() {
            if done[u] {
                continue;
            }
            done[u] = true;
            for &e in &self.adj[u] {
                if self.cap[e] <= 0 {
                    continue;
                }
                let v = self.to[e];
                let nd = d + self.reduced(e, u, h);
                if dist[v].is_none_or(|x| nd < x) {
                    dist[v] = Some(nd);
                    heap.push(Reverse((nd, v)));
                }
            }
        }
        dist
    }

    /// Dinic's blocking flow over the edges of reduced cost 0.
    fn blocking_flow(&mut self, s: usize, t: usize, h: &[i64]) -> i64 {
        let n = self.adj.len();
        let mut total = 0;
        loop {
            let mut level = vec![u32::MAX; n];
            level[s] = 0;
            let mut queue = VecDeque::from([s]);
            while let Some(u) = queue.pop_front() {
                // Nothing beyond the sink's level can be on a shortest path.
                if level[u] >= level[t] {
                    break;
                }
                for &e in &self.adj[u] {
                    let v = self.to[e];
                    if self.cap[e] > 0 && level[v] == u32::MAX && self.reduced(e, u, h) == 0 {
                        level[v] = level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if level[t] == u32::MAX {
                return total;
            }
            let mut next = vec![0usize; n];
            loop {
                let pushed = self.augment(s, t, INF, &level, &mut next, h);
                if pushed == 0 {
                    break;
                }
                total += pushed;
            }
        }
    }

    /// One augmenting path in the level graph, iteratively (paths can be
    /// long enough to overflow a recursive walk's stack).
    fn augment(
        &mut self,
        s: usize,
        t: usize,
        limit: i64,
        level: &[u32],
        next: &mut [usize],
        h: &[i64],
    ) -> i64 {
        let mut path: Vec<usize> = Vec::new();
        let mut u = s;
        loop {
            if u == t {
                let push = path.iter().fold(limit, |m, &e| m.min(self.cap[e]));
                for &e in &path {
                    self.cap[e] -= push;
                    self.cap[e ^ 1] += push;
                }
                return push;
            }
            let mut advanced = false;
            while next[u] < self.adj[u].len() {
                let e = self.adj[u][next[u]];
                let v = self.to[e];
                if self.cap[e] > 0 && level[v] == level[u] + 1 && self.reduced(e, u, h) == 0 {
                    path.push(e);
                    u = v;
                    advanced = true;
                    break;
                }
                next[u] += 1;
            }
            if !advanced {
                // Dead end: retreat and skip the edge that led here.
                let Some(e) = path.pop() else {
                    return 0;
                };
                u = self.to[e ^ 1];
                next[u] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheapest_routes_first_and_lower_bounds_fill() {
        // s -> a (2 units) -> t costs 1; s -> b (2) -> t costs 3; only 3 fit.
        let mut g = Flow::default();
        let (s, a, b, t) = (g.node(), g.node(), g.node(), g.node());
        g.edge(s, a, 2, 0);
        g.edge(s, b, 2, 0);
        g.edge(a, t, 2, 1);
        let bt = g.edge(b, t, 1, 3);
        assert_eq!(g.min_cost_flow(s, t), (3, 5));
        assert_eq!(g.flow_on(bt), 1);

        // A lower bound written as a reward is met even when dearer.
        let mut g = Flow::default();
        let (s, a, b, t) = (g.node(), g.node(), g.node(), g.node());
        g.edge(s, a, 1, 0);
        g.edge(a, b, 1, 5);
        let low = g.edge(b, t, 1, -BIG);
        g.edge(a, t, 1, 0);
        let (flow, cost) = g.min_cost_flow(s, t);
        assert_eq!((flow, cost + BIG), (1, 5));
        assert_eq!(g.left_on(low), 0);
    }

    #[test]
    fn rerouting_through_reverse_edges() {
        // The classic case where the first shortest path must be undone in
        // part: two units, s->1->2->t is cheapest alone, but the optimum of
        // two units uses s->1->t and s->2->t... through a reverse edge.
        let mut g = Flow::default();
        let n: Vec<usize> = (0..4).map(|_| g.node()).collect();
        g.edge(n[0], n[1], 1, 0);
        g.edge(n[0], n[2], 1, 2);
        g.edge(n[1], n[2], 1, 0);
        g.edge(n[1], n[3], 1, 2);
        g.edge(n[2], n[3], 1, 0);
        assert_eq!(g.min_cost_flow(n[0], n[3]), (2, 4));
    }
}
