//! Phase `leaders`. Input: the final placement. Output: replica lists
//! reordered so preferred leaders spread evenly. Invariant: no replica
//! changes broker.
//!
//! Preferred-leader balance: choose which replica of each partition comes
//! first. Reordering a replica list moves no data, so this runs after
//! placement and changes only the order.
//!
//! Greedy passes move leadership off brokers above the ceiling of the
//! average and onto brokers below its floor, then augmenting paths (a chain
//! of leadership hand-offs between replicas) close what the greedy leaves.
//! Only brokers that hold too many leaders give any up, so the number of
//! reordered partitions stays small.

use std::collections::VecDeque;

use super::replicas::Replicas;

/// Reorders `reps[p]` for movable partitions so that the first replicas are
/// spread evenly over `target` brokers. Returns the partitions reordered.
pub fn balance(reps: &mut [Replicas], movable: &[bool], target: &[bool], nb: usize) -> usize {
    let nt = target.iter().filter(|&&t| t).count();
    if nt == 0 || reps.is_empty() {
        return 0;
    }
    let mut lead = vec![0i64; nb];
    for r in reps.iter() {
        if let Some(&b) = r.first() {
            lead[b as usize] += 1;
        }
    }
    let total = reps.len() as i64;
    let floor = total / nt as i64;
    let ceil = (total + nt as i64 - 1) / nt as i64;
    let mut changed = vec![false; reps.len()];
    let mut set_leader = |reps: &mut [Replicas], lead: &mut [i64], p: usize, slot: usize| {
        let old = reps[p][0] as usize;
        let new = reps[p][slot] as usize;
        reps[p].swap(0, slot);
        lead[old] -= 1;
        lead[new] += 1;
        changed[p] = true;
    };
    // Greedy: shed from brokers above the ceiling (or off non-targets),
    // then fill brokers below the floor.
    for _ in 0..3 {
        let mut any = false;
        for p in 0..reps.len() {
            if !movable[p] || reps[p].len() < 2 {
                continue;
            }
            let a = reps[p][0] as usize;
            let over = !target[a] || lead[a] > ceil;
            // A leader neither over nor above the floor gives nothing up
            // (`helps` below is false whoever would take it): most
            // partitions, on every pass.
            if !over && lead[a] <= floor {
                continue;
            }
            let best = (1..reps[p].len())
                .filter(|&i| target[reps[p][i] as usize])
                .min_by_key(|&i| (lead[reps[p][i] as usize], i));
            let Some(slot) = best else { continue };
            let c = reps[p][slot] as usize;
            let helps = if over {
                lead[c] < ceil || !target[a]
            } else {
                lead[c] < floor && lead[a] > floor
            };
            if helps && (lead[c] + 1 < lead[a] || !target[a]) {
                set_leader(reps, &mut lead, p, slot);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    // Augmenting paths: from the busiest broker, find a chain of hand-offs
    // ending at a broker with at least two fewer leaders.
    let mut led: Vec<Vec<u32>> = vec![Vec::new(); nb];
    for (p, r) in reps.iter().enumerate() {
        if movable[p] && r.len() > 1 {
            led[r[0] as usize].push(p as u32);
        }
    }
    let targets: Vec<usize> = (0..nb).filter(|&b| target[b]).collect();
    // A broker no chain leaves is not searched again until the fewest
    // leaders any broker has changes: each search walks every partition
    // its chains reach, and where replica counts are off (a budgeted or
    // filtered plan) most busy brokers have none, so searching them all
    // again after every hand-off takes quadratic time. (A hand-off
    // elsewhere can open a chain; the search then misses it until the
    // next change of the minimum, for speed.)
    let mut stuck = vec![false; nb];
    let mut least = i64::MIN;
    for _ in 0..reps.len().max(4 * nb + 64) {
        let Some(&lo_b) = targets.iter().min_by_key(|&&b| (lead[b], b)) else {
            break;
        };
        if lead[lo_b] != least {
            least = lead[lo_b];
            stuck.fill(false);
        }
        // The busiest broker first; if no hand-off chain leaves it, the
        // next busiest (its chains may reach brokers the first cannot).
        let mut busy: Vec<usize> = targets
            .iter()
            .copied()
            .filter(|&b| lead[b] > lead[lo_b] + 1 && !stuck[b])
            .collect();
        busy.sort_by_key(|&b| (std::cmp::Reverse(lead[b]), b));
        let Some(path) = busy.iter().find_map(|&b| {
            let path = augment(reps, &led, &lead, target, b);
            stuck[b] = path.is_none();
            path
        }) else {
            break;
        };
        for (p, slot) in path {
            let (from, to) = (reps[p][0] as usize, reps[p][slot] as usize);
            set_leader(reps, &mut lead, p, slot);
            if let Some(i) = led[from].iter().position(|&x| x as usize == p) {
                led[from].swap_remove(i);
            }
            led[to].push(p as u32);
        }
    }
    changed.iter().filter(|&&c| c).count()
}

/// Breadth-first search over brokers from `start`: an edge `a -> b` is a
/// partition led by `a` with `b` among its replicas. Returns the hand-offs
/// (partition, slot of the new leader) along a path to a broker whose
/// leader count is at least two below `start`'s.
fn augment(
    reps: &[Replicas],
    led: &[Vec<u32>],
    lead: &[i64],
    target: &[bool],
    start: usize,
) -> Option<Vec<(usize, usize)>> {
    let nb = lead.len();
    let mut prev: Vec<Option<(usize, usize, usize)>> = vec![None; nb];
    let mut seen = vec![false; nb];
    seen[start] = true;
    let mut queue = VecDeque::from([start]);
    while let Some(a) = queue.pop_front() {
        for &p in &led[a] {
            let p = p as usize;
            for (slot, &b) in reps[p].iter().enumerate().skip(1) {
                let b = b as usize;
                if seen[b] || !target[b] {
                    continue;
                }
                seen[b] = true;
                prev[b] = Some((a, p, slot));
                if lead[b] + 2 <= lead[start] {
                    let mut path = Vec::new();
                    let mut cur = b;
                    while let Some((from, p, slot)) = prev[cur] {
                        path.push((p, slot));
                        cur = from;
                    }
                    // Apply from the start so each hand-off sees the leader
                    // the path assumed.
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(b);
            }
        }
    }
    None
}
