//! The node set the gateway routes over: the `--nodes` seeds at start, then the Raft
//! membership (voters and learners with their addresses) the nodes report in
//! `GET /cluster/status`, so nodes added or removed live are followed without a restart.
//!
//! [`merge`] decides what a round of status answers means; [`NodeSet`] holds the result
//! with one client per node.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use toystore_api::node::{ClusterStatus, NodeClient, Role};
use toystore_api::Http;

/// Which nodes there are, where, and which of them vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Every node (voters and learners): id to `host:port`.
    pub nodes: BTreeMap<u64, String>,
    /// The ids that vote (a subset of `nodes`).
    pub voters: BTreeSet<u64>,
}

impl Membership {
    /// The seeds as a membership: every seed is taken for a voter until a node says otherwise.
    pub fn from_seeds(seeds: &BTreeMap<u64, String>) -> Self {
        Membership {
            nodes: seeds.clone(),
            voters: seeds.keys().copied().collect(),
        }
    }
}

/// The membership to route over after a round of `/cluster/status` answers.
///
/// The answer from the highest term wins, a leader's over a follower's in that term, then the
/// longest log (membership changes are log entries, so the longest log holds the latest one).
/// Answers of nodes that belong to no cluster yet (empty membership) say nothing. When
/// nothing useful answers, the seeds join what is known, so a gateway whose learned nodes
/// all went away can find the cluster again through its `--nodes`.
///
/// A seed keeps its seed address: `--nodes` says how this gateway reaches that node, which
/// may differ from the address the nodes use among themselves (a proxy, NAT, another
/// interface). Nodes the seeds do not name are reached at their membership address.
pub fn merge(
    seeds: &BTreeMap<u64, String>,
    known: &Membership,
    answers: &[ClusterStatus],
) -> Membership {
    let best = answers
        .iter()
        .filter(|status| !status.nodes.is_empty())
        .max_by_key(|s| (s.term, s.state == Role::Leader, s.last_log_index));
    let Some(best) = best else {
        let mut fallback = known.clone();
        for (id, addr) in seeds {
            fallback.nodes.insert(*id, addr.clone());
            fallback.voters.insert(*id);
        }
        return fallback;
    };
    let nodes: BTreeMap<u64, String> = best
        .nodes
        .iter()
        .filter_map(|(id, addr)| {
            let id: u64 = id.parse().ok()?;
            let addr = seeds.get(&id).unwrap_or(addr).clone();
            Some((id, addr))
        })
        .collect();
    let voters = best
        .voters
        .iter()
        .copied()
        .filter(|id| nodes.contains_key(id))
        .collect();
    Membership { nodes, voters }
}

/// One node the router may send to.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its `host:port`.
    pub addr: String,
    /// A client of it, on the router's shared connection pool.
    pub client: NodeClient,
}

/// A [`Membership`] with a client per node, as the router uses it. Never empty.
#[derive(Debug)]
pub struct NodeSet {
    membership: Membership,
    nodes: BTreeMap<u64, Node>,
    ids_by_addr: HashMap<String, u64>,
}

impl NodeSet {
    /// Clients of every node of `membership` on `http`; `None` when it has no nodes.
    pub fn new(membership: Membership, http: &Http) -> Option<Self> {
        if membership.nodes.is_empty() {
            return None;
        }
        let nodes = membership
            .nodes
            .iter()
            .map(|(id, addr)| {
                let client = NodeClient::new(addr, http.clone());
                let node = Node {
                    addr: addr.clone(),
                    client,
                };
                (*id, node)
            })
            .collect();
        let ids_by_addr = membership
            .nodes
            .iter()
            .map(|(id, addr)| (addr.clone(), *id))
            .collect();
        Some(NodeSet {
            membership,
            nodes,
            ids_by_addr,
        })
    }

    /// The membership this set was built from.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Node `id`, if it is in the set.
    pub fn get(&self, id: u64) -> Option<&Node> {
        self.nodes.get(&id)
    }

    /// Whether node `id` is in the set.
    pub fn contains(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
    }

    /// The id of the node at `addr`, if one is there.
    pub fn id_at(&self, addr: &str) -> Option<u64> {
        self.ids_by_addr.get(addr).copied()
    }

    /// Every node, by id.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Node)> {
        self.nodes.iter().map(|(id, node)| (*id, node))
    }

    /// The lowest id, where a request starts when no leader is known.
    pub fn first(&self) -> u64 {
        *self.nodes.keys().next().expect("a node set is never empty")
    }

    /// The node after `id` in id order, wrapping around (`id` need not be in the set).
    pub fn next_after(&self, id: u64) -> u64 {
        self.nodes
            .range(id + 1..)
            .next()
            .map_or_else(|| self.first(), |(id, _)| *id)
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: u64) -> bool {
        self.membership.voters.contains(&id)
    }

    /// How many voters make a majority.
    pub fn majority(&self) -> usize {
        self.membership.voters.len() / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(pairs: &[(u64, &str)]) -> BTreeMap<u64, String> {
        pairs.iter().map(|(id, a)| (*id, a.to_string())).collect()
    }

    fn status(id: u64, state: Role, term: u64, log: u64, nodes: &[(u64, &str)]) -> ClusterStatus {
        let voters: Vec<u64> = nodes.iter().map(|(id, _)| *id).collect();
        ClusterStatus {
            id,
            state,
            term,
            leader_id: None,
            last_log_index: Some(log),
            last_applied: Some(log),
            committed: Some(log),
            snapshot_index: None,
            voters,
            learners: vec![],
            nodes: nodes
                .iter()
                .map(|(id, a)| (id.to_string(), a.to_string()))
                .collect(),
        }
    }

    fn seeds() -> BTreeMap<u64, String> {
        addrs(&[(1, "h1:1"), (2, "h2:1"), (3, "h3:1")])
    }

    #[test]
    fn an_added_node_is_learned_and_a_removed_one_dropped() {
        let known = Membership::from_seeds(&seeds());
        let four = [(1, "h1:1"), (2, "h2:1"), (3, "h3:1"), (4, "h4:1")];
        let mut leader = status(1, Role::Leader, 3, 10, &four);
        leader.voters = vec![1, 2, 3];
        leader.learners = vec![4];
        let learned = merge(&seeds(), &known, &[leader]);
        assert_eq!(learned.nodes, addrs(&four));
        assert_eq!(learned.voters, [1, 2, 3].into());

        let without_two = [(1, "h1:1"), (3, "h3:1"), (4, "h4:1")];
        let answers = [status(4, Role::Leader, 4, 12, &without_two)];
        let after = merge(&seeds(), &learned, &answers);
        assert_eq!(after.nodes, addrs(&without_two));
        assert_eq!(after.voters, [1, 3, 4].into());
    }

    #[test]
    fn the_newest_view_wins_over_a_stale_one() {
        let known = Membership::from_seeds(&seeds());
        let old = [(1, "h1:1"), (2, "h2:1"), (3, "h3:1")];
        let new = [(1, "h1:1"), (3, "h3:1")];
        // A removed node still running, cut off, believes it leads an old term.
        let stale_leader = status(2, Role::Leader, 3, 20, &old);
        let follower = status(3, Role::Follower, 4, 15, &new);
        let merged = merge(&seeds(), &known, &[stale_leader.clone(), follower.clone()]);
        assert_eq!(merged.nodes, addrs(&new));
        // In one term the leader's view wins over a follower's, whatever the log lengths.
        let lagging_leader = status(1, Role::Leader, 4, 14, &old);
        let merged = merge(&seeds(), &known, &[follower, lagging_leader]);
        assert_eq!(merged.nodes, addrs(&old));
    }

    #[test]
    fn seeds_keep_their_address_and_come_back_when_nothing_answers() {
        let learned = Membership {
            nodes: addrs(&[(1, "h1:1"), (5, "h5:1")]),
            voters: [1, 5].into(),
        };
        // The nodes call node 1 by a proxy's address; the gateway keeps its own.
        let answer = status(5, Role::Leader, 7, 30, &[(1, "proxy:9"), (5, "h5:1")]);
        let merged = merge(&seeds(), &learned, &[answer]);
        assert_eq!(merged.nodes, addrs(&[(1, "h1:1"), (5, "h5:1")]));

        let fallback = merge(&seeds(), &learned, &[]);
        assert_eq!(
            fallback.nodes,
            addrs(&[(1, "h1:1"), (2, "h2:1"), (3, "h3:1"), (5, "h5:1")])
        );
        assert_eq!(fallback.voters, [1, 2, 3, 5].into());
        // A node not yet in any cluster says nothing about the membership.
        let fresh = status(9, Role::Learner, 0, 0, &[]);
        assert_eq!(merge(&seeds(), &learned, &[fresh]), fallback);
    }

    #[test]
    fn a_node_set_walks_its_ids_in_order() {
        let set = NodeSet::new(
            Membership::from_seeds(&addrs(&[(2, "a:1"), (5, "b:1"), (7, "c:1")])),
            &Http::from(reqwest::Client::new()),
        )
        .unwrap();
        assert_eq!(set.first(), 2);
        assert_eq!(set.next_after(2), 5);
        assert_eq!(set.next_after(3), 5);
        assert_eq!(set.next_after(7), 2);
        assert_eq!(set.id_at("b:1"), Some(5));
        assert_eq!(set.majority(), 2);
        let empty = Membership {
            nodes: BTreeMap::new(),
            voters: BTreeSet::new(),
        };
        assert!(NodeSet::new(empty, &Http::from(reqwest::Client::new())).is_none());
    }
}
