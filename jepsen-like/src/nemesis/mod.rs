//! The nemesis: from `--nemesis`, one fault after another (rounds of every listed kind,
//! each round in a seeded order), every `interval`, each lasting one interval; `combined`
//! overlaps a process fault with a link fault. Every start and stop is a nemesis event in
//! the history; a heal is verified (every process up, an agreed leader, a healthy gateway)
//! before the next fault. A fault that does not start or heal is recorded with an `error`
//! and ends the nemesis with that error (the run then exits 2).
//!
//! - [`fault`]: the kinds and `--nemesis` parsing.
//! - [`setup`]: what the cluster is started with for them (snapshot threshold, libfaketime,
//!   libfiu).
//! - [`context`]: the cluster, proxies and random choices every fault works on.
//! - [`processes`], [`links`], [`membership`], [`snapshot`], [`clock`], [`disk`]: the faults.
//! - [`verify`]: the check after each heal.

mod clock;
mod context;
mod disk;
mod fault;
mod links;
mod membership;
mod processes;
mod setup;
mod snapshot;
mod verify;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;
use toystore_api::gateway::GatewayClient;

use crate::history::Recorder;
pub(crate) use context::Context;
pub(crate) use fault::{Fault, FaultList};
pub(crate) use setup::Setup;

/// A fault in force, with what healing it takes.
enum Active {
    Process(processes::Held),
    Links,
    Membership(membership::Held),
    Snapshot(snapshot::Held),
    Clock(clock::Held),
    Disk(disk::Held),
}

pub(crate) struct Nemesis<'a> {
    pub(crate) ctx: Context<'a>,
    pub(crate) recorder: Recorder,
    /// How the heal check asks the gateway for `/health`.
    pub(crate) gateway: GatewayClient,
}

impl Nemesis<'_> {
    /// Injects faults until `end`, healing and checking each before the next.
    pub(crate) async fn run(
        &mut self,
        faults: &[Fault],
        interval: Duration,
        end: Instant,
    ) -> anyhow::Result<()> {
        let mut schedule = Schedule::new(faults);
        loop {
            if !sleep_unless_past(interval, end).await {
                return Ok(());
            }
            let Some(fault) = schedule.next(&mut self.ctx.rng) else {
                continue;
            };
            if fault == Fault::Combined {
                self.combined(interval).await?;
            } else {
                let (active, target) = self.start(fault).await?;
                tokio::time::sleep(interval).await;
                let healed = self.stop(active).await;
                self.verified(fault, &target, healed).await?;
            }
        }
    }

    /// A process fault and a link fault, the second starting half an interval into the
    /// first and outlasting it by as much.
    async fn combined(&mut self, interval: Duration) -> anyhow::Result<()> {
        let clocks = self.ctx.setup.clock_file("catalog").is_some();
        let processes: Vec<Fault> = Fault::PROCESSES
            .into_iter()
            .filter(|f| *f != Fault::Clock || clocks)
            .collect();
        let mut pair = [self.ctx.pick(&processes), self.ctx.pick(&Fault::LINKS)];
        if self.ctx.rng.random_bool(0.5) {
            pair.swap(0, 1);
        }
        let name = format!("{} + {}", pair[0].name(), pair[1].name());
        self.event(Fault::Combined, &name, "start", None);
        let half = interval / 2;
        let first = self.start(pair[0]).await;
        let first = self.or_end_combined(&name, first)?;
        tokio::time::sleep(half).await;
        let second = self.start(pair[1]).await;
        let second = match second {
            Ok(second) => second,
            Err(err) => {
                let _ = self.stop(first.0).await;
                return self.or_end_combined::<()>(&name, Err(err));
            }
        };
        tokio::time::sleep(half).await;
        let healed_first = self.stop(first.0).await;
        self.stopped(pair[0], &first.1, &healed_first);
        tokio::time::sleep(half).await;
        let healed_second = self.stop(second.0).await;
        self.stopped(pair[1], &second.1, &healed_second);
        let healed = healed_first.and(healed_second).map(|_| None);
        self.verified(Fault::Combined, &name, healed).await
    }

    /// Records the end of a combined fault whose part did not start.
    fn or_end_combined<T>(&self, name: &str, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if let Err(err) = &result {
            self.event(
                Fault::Combined,
                name,
                "stop",
                Some(("error", format!("{err:#}"))),
            );
        }
        result
    }

    /// Starts `fault` and records it, or records why it did not start.
    async fn start(&mut self, fault: Fault) -> anyhow::Result<(Active, String)> {
        let started = self.start_unrecorded(fault).await;
        match &started {
            Ok((_, target)) => {
                self.event(fault, target, "start", None);
                tracing::info!("nemesis: {} {target}", fault.name());
            }
            Err(err) => {
                let error = format!("{err:#}");
                self.event(fault, "none", "start", Some(("error", error)));
            }
        }
        started
    }

    async fn start_unrecorded(&mut self, fault: Fault) -> anyhow::Result<(Active, String)> {
        let ctx = &mut self.ctx;
        Ok(match fault {
            Fault::Kill
            | Fault::KillLeader
            | Fault::Pause
            | Fault::KillCatalog
            | Fault::KillGateway => {
                let (held, target) = processes::start(ctx, fault).await?;
                (Active::Process(held), target)
            }
            Fault::Partition => (Active::Links, links::partition(ctx).await?),
            Fault::Slow => (Active::Links, links::slow(ctx)),
            Fault::Flaky => (Active::Links, links::flaky(ctx)),
            Fault::Membership => {
                let (held, target) = membership::start(ctx).await?;
                (Active::Membership(held), target)
            }
            Fault::Snapshot => {
                let (held, target) = snapshot::start(ctx).await?;
                (Active::Snapshot(held), target)
            }
            Fault::Clock => {
                let (held, target) = clock::start(ctx)?;
                (Active::Clock(held), target)
            }
            Fault::Disk => {
                let (held, target) = disk::start(ctx).await?;
                (Active::Disk(held), target)
            }
            Fault::Combined => anyhow::bail!("combined is made of two other faults"),
        })
    }

    /// Heals `active`; `Ok(Some(note))` when the heal has something to say.
    async fn stop(&mut self, active: Active) -> anyhow::Result<Option<String>> {
        let ctx = &mut self.ctx;
        match active {
            Active::Process(held) => processes::heal(ctx, held).map(|()| None),
            Active::Links => links::heal(ctx).map(|()| None),
            Active::Membership(held) => membership::heal(ctx, held).await.map(|()| None),
            Active::Snapshot(held) => snapshot::heal(ctx, held).await.map(Some),
            Active::Clock(held) => clock::heal(&held).map(|()| None),
            Active::Disk(held) => disk::heal(ctx, held).await.map(Some),
        }
    }

    /// Records the stop of one fault: its note, or why it did not heal.
    fn stopped(&self, fault: Fault, target: &str, healed: &anyhow::Result<Option<String>>) {
        let extra = match healed {
            Ok(note) => note.clone().map(|note| ("note", note)),
            Err(err) => Some(("error", format!("{err:#}"))),
        };
        self.event(fault, target, "stop", extra);
    }

    /// Checks the healed cluster, then records the stop (with the heal's error or the
    /// check's, if any) and passes that error on.
    async fn verified(
        &mut self,
        fault: Fault,
        target: &str,
        healed: anyhow::Result<Option<String>>,
    ) -> anyhow::Result<()> {
        let checked = match healed {
            Ok(note) => verify::healthy(self.ctx.cluster, &self.gateway)
                .await
                .map(|()| note)
                .map_err(|err| err.context("the cluster is not healthy after healing")),
            Err(err) => Err(err),
        };
        self.stopped(fault, target, &checked);
        tracing::info!("nemesis: healed {} {target}", fault.name());
        checked
            .map(|_| ())
            .map_err(|err| err.context(format!("{} {target}", fault.name())))
    }

    fn event(&self, fault: Fault, target: &str, phase: &str, extra: Option<(&str, String)>) {
        let mut value: Value = json!({"fault": fault.name(), "target": target, "phase": phase});
        if let Some((key, text)) = extra {
            value[key] = json!(text);
        }
        self.recorder.nemesis_value(value);
    }
}

/// Rounds of every fault kind, each in a fresh seeded order, so a short run still meets
/// every kind listed.
struct Schedule {
    faults: Vec<Fault>,
    round: Vec<Fault>,
}

impl Schedule {
    fn new(faults: &[Fault]) -> Self {
        Schedule {
            faults: faults.to_vec(),
            round: Vec::new(),
        }
    }

    fn next(&mut self, rng: &mut StdRng) -> Option<Fault> {
        if self.round.is_empty() {
            self.round = self.faults.clone();
            for i in (1..self.round.len()).rev() {
                self.round.swap(i, rng.random_range(0..=i));
            }
        }
        self.round.pop()
    }
}

/// Sleeps `interval`; false (after sleeping only until `end`) if that passes `end`.
async fn sleep_unless_past(interval: Duration, end: Instant) -> bool {
    let wake = Instant::now() + interval;
    if wake >= end {
        tokio::time::sleep_until(end).await;
        return false;
    }
    tokio::time::sleep_until(wake).await;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_round_holds_every_fault_once_and_a_seed_repeats_the_order() {
        let faults = fault::ALL.to_vec();
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut schedule = Schedule::new(&faults);
            (0..faults.len() * 2)
                .map(|_| schedule.next(&mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        let run = draw(9);
        for round in run.chunks(faults.len()) {
            let mut sorted = round.to_vec();
            sorted.sort();
            assert_eq!(sorted, faults);
        }
        assert_eq!(run, draw(9));
        assert_ne!(run, draw(10));
        assert_eq!(Schedule::new(&[]).next(&mut StdRng::seed_from_u64(1)), None);
    }
}
