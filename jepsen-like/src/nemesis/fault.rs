//! The fault kinds `--nemesis` names, and how a list of them is parsed (`all` names every
//! one, `none` or nothing none).

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Fault {
    Kill,
    KillLeader,
    Pause,
    Partition,
    KillCatalog,
    KillGateway,
    Slow,
    Flaky,
    Membership,
    Snapshot,
    Clock,
    Disk,
    Combined,
}

/// Every kind, in the order `--help` lists them.
pub(crate) const ALL: [Fault; 13] = [
    Fault::Kill,
    Fault::KillLeader,
    Fault::Pause,
    Fault::Partition,
    Fault::KillCatalog,
    Fault::KillGateway,
    Fault::Slow,
    Fault::Flaky,
    Fault::Membership,
    Fault::Snapshot,
    Fault::Clock,
    Fault::Disk,
    Fault::Combined,
];

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::KillLeader => "kill-leader",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::KillCatalog => "kill-catalog",
            Fault::KillGateway => "kill-gateway",
            Fault::Slow => "slow",
            Fault::Flaky => "flaky",
            Fault::Membership => "membership",
            Fault::Snapshot => "snapshot",
            Fault::Clock => "clock",
            Fault::Disk => "disk",
            Fault::Combined => "combined",
        }
    }

    /// Faults on links, which `combined` lays over a fault of a process.
    pub(crate) const LINKS: [Fault; 3] = [Fault::Partition, Fault::Slow, Fault::Flaky];

    /// Faults of one process that `combined` overlaps with a link fault: they touch no
    /// link and never wait for a healthy cluster to start.
    pub(crate) const PROCESSES: [Fault; 6] = [
        Fault::Kill,
        Fault::KillLeader,
        Fault::Pause,
        Fault::KillCatalog,
        Fault::KillGateway,
        Fault::Clock,
    ];

    /// Parses `kill,pause,...`; `all` adds every kind; an empty list means no faults.
    /// Each kind appears once, in the order given.
    pub(crate) fn parse_list(text: &str) -> Result<Vec<Fault>, String> {
        let mut faults = Vec::new();
        for name in text.split(',').map(str::trim) {
            let named: Vec<Fault> = match name {
                "" | "none" => Vec::new(),
                "all" => ALL.to_vec(),
                _ => vec![ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
                    let names: Vec<&str> = ALL.iter().map(|f| f.name()).collect();
                    format!("unknown fault `{name}` ({}, all, none)", names.join(", "))
                })?],
            };
            for fault in named {
                if !faults.contains(&fault) {
                    faults.push(fault);
                }
            }
        }
        Ok(faults)
    }
}

/// `--nemesis kill,pause,...` as clap parses it (one value, not many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FaultList(pub Vec<Fault>);

impl FaultList {
    pub(crate) fn parse(text: &str) -> Result<FaultList, String> {
        Fault::parse_list(text).map(FaultList)
    }

    /// The names, comma-separated, as the command line takes them.
    pub(crate) fn names(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|f| f.name()).collect();
        names.join(",")
    }

    pub(crate) fn contains(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_name_all_and_none() {
        let faults = Fault::parse_list("kill,pause,partition,kill-leader,kill-catalog").unwrap();
        assert_eq!(faults.len(), 5);
        for fault in ALL {
            assert_eq!(Fault::parse_list(fault.name()).unwrap(), vec![fault]);
        }
        assert!(Fault::parse_list("none").unwrap().is_empty());
        assert!(Fault::parse_list("").unwrap().is_empty());
        assert_eq!(Fault::parse_list("all").unwrap(), ALL.to_vec());
        assert_eq!(Fault::parse_list("disk, all").unwrap().len(), ALL.len());
        assert_eq!(Fault::parse_list("kill,kill").unwrap(), vec![Fault::Kill]);
        let err = Fault::parse_list("kill,flood").unwrap_err();
        assert!(
            err.contains("flood") && err.contains("kill-gateway"),
            "{err}"
        );
        assert_eq!(
            FaultList::parse("slow,flaky").unwrap().names(),
            "slow,flaky"
        );
    }

    #[test]
    fn combined_pairs_a_process_with_a_link() {
        for fault in Fault::PROCESSES {
            assert!(!Fault::LINKS.contains(&fault));
        }
        assert!(!Fault::PROCESSES.contains(&Fault::Combined));
    }
}
