//! Parsers for command-line values that more than one service takes.

use std::collections::BTreeMap;
use std::time::Duration;

/// `id -> host:port` of raft nodes, from `--peers` or `--nodes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peers(pub BTreeMap<u64, String>);

/// Parses `1=127.0.0.1:10010,2=127.0.0.1:10011`; empty means none.
pub fn parse_peers(text: &str) -> Result<Peers, String> {
    let mut peers = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("peer `{part}` is not id=host:port"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("peer id `{id}` is not a positive integer"))?;
        let addr = addr.trim();
        if id == 0 || !addr.contains(':') {
            return Err(format!("peer `{part}` is not id=host:port with id > 0"));
        }
        if peers.insert(id, addr.to_string()).is_some() {
            return Err(format!("peer id {id} given twice"));
        }
    }
    Ok(Peers(peers))
}

/// A duration such as `10s` or `250ms` that must be above zero.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be above zero".to_string());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject_nonsense() {
        let peers = parse_peers("1=127.0.0.1:10010, 2=127.0.0.1:10011").unwrap();
        assert_eq!(peers.0[&2], "127.0.0.1:10011");
        assert_eq!(parse_peers("").unwrap().0.len(), 0);
        for bad in ["1", "x=a:1", "0=a:1", "1=a:1,1=b:2", "1=nohost"] {
            assert!(parse_peers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(positive_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(positive_duration("0s").is_err());
        assert!(positive_duration("soon").is_err());
    }
}
