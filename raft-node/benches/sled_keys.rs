//! What one sled operation on a random key costs in a small tree and in a large one: the
//! floor under `jepsen-like bench growth`. Request ids are random, so every buy makes a few
//! such operations: the catalog two lookups and two inserts in its reservations tree, each
//! node one compare-and-swap in its request-id tree, the leader one more lookup before it
//! proposes. Whatever one costs more at a million keys, a buy costs that many times more.
//!
//! Two trees are filled (10,000 and 1,000,000 keys of 32 hex characters, like the bench's
//! idempotency keys), then measured in turns, A B A B, so the machine's drift weighs on both
//! alike: lookups of present and of absent keys, inserts with a small value (a node's
//! request state) and with a 120-byte one (a catalog record), and compare-and-swap of a
//! new key. Writes are flushed every 32, as group commit does. Each figure is CPU time
//! (the process's, sled's threads included) per operation, the median of the rounds.
//! Inserted keys are removed after each round, untimed, so the trees keep their sizes.
//!
//! `cargo bench -p raft-node --bench sled_keys` (about a minute);
//! `SLED_KEYS_SIZES=10000,100000` to choose the sizes, `SLED_KEYS_ROUNDS` the rounds.

use std::time::Duration;

/// The services' allocator, so the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Operations per kind and round.
const OPS: usize = 20_000;
/// Writes between flushes.
const GROUP: usize = 32;

#[derive(Clone, Copy)]
enum Kind {
    GetPresent,
    GetAbsent,
    InsertSmall,
    InsertRecord,
    CompareAndSwap,
}

const KINDS: [(Kind, &str); 5] = [
    (Kind::GetPresent, "lookup, key present"),
    (Kind::GetAbsent, "lookup, key absent"),
    (Kind::InsertSmall, "insert, 12-byte value"),
    (Kind::InsertRecord, "insert, 120-byte value"),
    (Kind::CompareAndSwap, "compare-and-swap, new key"),
];

/// Random 32-hex-character keys from a seeded generator (splitmix64).
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> [u8; 32] {
        let mut key = [0u8; 32];
        for half in key.chunks_mut(16) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for (i, byte) in half.iter_mut().enumerate() {
                *byte = b"0123456789abcdef"[((z >> (i * 4)) & 0xf) as usize];
            }
        }
        key
    }
}

/// One filled tree and keys known to be in it.
struct Filled {
    size: u64,
    db: sled::Db,
    tree: sled::Tree,
    present: Vec<[u8; 32]>,
    keys: Keys,
    _dir: tempfile::TempDir,
}

fn fill(size: u64, seed: u64) -> anyhow::Result<Filled> {
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path()).open()?;
    let tree = db.open_tree("requests")?;
    let mut keys = Keys(seed);
    let mut present = Vec::new();
    let mut filled = 0u64;
    while filled < size {
        let mut batch = sled::Batch::default();
        for _ in 0..1_000.min(size - filled) {
            let key = keys.next();
            if present.len() < OPS {
                present.push(key);
            }
            batch.insert(&key[..], &[7u8; 12][..]);
            filled += 1;
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    Ok(Filled {
        size,
        db,
        tree,
        present,
        keys,
        _dir: dir,
    })
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// One round of `kind` on `filled`: CPU µs per operation.
fn round(filled: &mut Filled, kind: Kind) -> anyhow::Result<f64> {
    let fresh: Vec<[u8; 32]> = (0..OPS).map(|_| filled.keys.next()).collect();
    let record = [b'x'; 120];
    let started = cpu_time();
    for (i, key) in fresh.iter().enumerate() {
        match kind {
            Kind::GetPresent => {
                let key = &filled.present[i % filled.present.len()];
                anyhow::ensure!(filled.tree.get(key)?.is_some(), "a present key is missing");
            }
            Kind::GetAbsent => {
                anyhow::ensure!(filled.tree.get(key)?.is_none(), "a fresh key is present");
            }
            Kind::InsertSmall => {
                filled.tree.insert(key, &[7u8; 12][..])?;
            }
            Kind::InsertRecord => {
                filled.tree.insert(key, &record[..])?;
            }
            Kind::CompareAndSwap => {
                let swapped = filled.tree.compare_and_swap(
                    key,
                    None as Option<&[u8]>,
                    Some(&[7u8; 12][..]),
                )?;
                anyhow::ensure!(swapped.is_ok(), "a fresh key is present");
            }
        }
        if i % GROUP == GROUP - 1 && !matches!(kind, Kind::GetPresent | Kind::GetAbsent) {
            filled.db.flush()?;
        }
    }
    let per_op = (cpu_time() - started).as_secs_f64() * 1e6 / OPS as f64;
    if !matches!(kind, Kind::GetPresent | Kind::GetAbsent) {
        for key in &fresh {
            filled.tree.remove(key)?;
        }
        filled.db.flush()?;
    }
    Ok(per_op)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<u64> = std::env::var("SLED_KEYS_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|s: &Vec<u64>| s.len() == 2)
        .unwrap_or_else(|| vec![10_000, 1_000_000]);
    let rounds: usize = env_or("SLED_KEYS_ROUNDS", 5).max(1);
    let mut trees = Vec::new();
    for (seed, &size) in sizes.iter().enumerate() {
        eprintln!("filling a tree with {size} keys");
        trees.push(fill(size, seed as u64 + 1)?);
    }
    let mut figures = vec![[Vec::new(), Vec::new()]; KINDS.len()];
    for r in 0..rounds {
        eprintln!("round {} of {rounds}", r + 1);
        for (k, (kind, _)) in KINDS.iter().enumerate() {
            for (t, tree) in trees.iter_mut().enumerate() {
                figures[k][t].push(round(tree, *kind)?);
            }
        }
    }
    let (small, large) = (trees[0].size, trees[1].size);
    println!(
        "| operation | CPU µs at {small} keys | CPU µs at {large} keys | difference | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for ((_, label), [a, b]) in KINDS.iter().zip(&mut figures) {
        let (a, b) = (median(a), median(b));
        println!(
            "| {label} | {a:.1} | {b:.1} | {:+.1} | {:.1}x |",
            b - a,
            b / a.max(1e-9)
        );
    }
    Ok(())
}
