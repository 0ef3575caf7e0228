//! `jepsen-like soak`: many `test` runs in a row, seeds N, N+1, ..., each into its own
//! directory, summarised in `soak.md` (one row per run, then what each fault kind did to
//! buys over all runs) and `soak.png`. Valid only if every run is.
//!
//! - [`effects`]: availability and latency of buys per fault kind, from the histories.

mod effects;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::chart::{self, Bars};
use crate::history::{Event, Function};
use crate::markdown::{machine_line, ms, Table};
use crate::nemesis::FaultList;
use crate::run::{self, RunShape, TestArgs};

/// `jepsen-like soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// How many runs.
    #[arg(long, env = "JEPSEN_RUNS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    runs: u64,
    /// Seconds of workload per run.
    #[arg(long, env = "JEPSEN_TIME", default_value_t = 60)]
    time: u64,
    /// Faults to inject in every run (as for `test`).
    #[arg(long, env = "JEPSEN_NEMESIS", default_value = "all", value_parser = FaultList::parse)]
    nemesis: FaultList,
    /// The first run's seed; run i uses seed + i [default: from the clock].
    #[arg(long, env = "JEPSEN_SEED")]
    seed: Option<u64>,
    /// Where soak.md, soak.png and a directory per run (`seed-<N>`) go.
    #[arg(long, env = "JEPSEN_OUT", default_value = "soak-out")]
    out: PathBuf,
    #[command(flatten)]
    shape: RunShape,
}

/// What one run left for the summary.
struct Row {
    seed: u64,
    dir: PathBuf,
    outcome: Outcome,
}

enum Outcome {
    Checked(Box<run::Run>),
    /// The run could not start, or ended before its history was checked.
    Broken(String),
}

/// Runs the soak; `Ok(true)` when every run was valid. A run whose fault did not start or
/// heal, or that broke, makes the whole soak a harness error once `soak.md` is written.
pub async fn soak(args: SoakArgs) -> anyhow::Result<bool> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let first = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut rows = Vec::new();
    for i in 0..args.runs {
        let seed = first + i;
        let dir = args.out.join(format!("seed-{seed}"));
        println!("== soak run {} of {} (seed {seed})", i + 1, args.runs);
        let test = TestArgs {
            time: args.time,
            nemesis: args.nemesis.clone(),
            seed: Some(seed),
            out: dir.clone(),
            shape: args.shape.clone(),
        };
        let outcome = match run::execute(&test).await {
            Ok(run) => Outcome::Checked(Box::new(run)),
            Err(err) => {
                println!("run with seed {seed} broke: {err:#}");
                Outcome::Broken(format!("{err:#}"))
            }
        };
        rows.push(Row { seed, dir, outcome });
        write_summary(&args, &rows)?;
    }
    println!("{}", std::fs::read_to_string(args.out.join("soak.md"))?);
    let valid = rows.iter().filter(|r| verdict(r) == "valid").count();
    println!("soak: {valid} of {} runs valid", rows.len());
    if let Some(row) = rows.iter().find(|r| verdict(r).starts_with("harness")) {
        anyhow::bail!(
            "run with seed {} had a harness error (see {})",
            row.seed,
            row.dir.display()
        );
    }
    Ok(valid == rows.len())
}

fn verdict(row: &Row) -> &'static str {
    match &row.outcome {
        Outcome::Broken(_) => "harness error",
        Outcome::Checked(run) if run.nemesis_error.is_some() => "harness error (fault)",
        Outcome::Checked(run) if run.results.valid => "valid",
        Outcome::Checked(_) => "ANOMALIES",
    }
}

/// `soak.md` and `soak.png` from the runs so far (rewritten after each run, so a soak cut
/// short still leaves its summary).
fn write_summary(args: &SoakArgs, rows: &[Row]) -> anyhow::Result<()> {
    let histories: Vec<&[Event]> = rows
        .iter()
        .filter_map(|row| match &row.outcome {
            Outcome::Checked(run) => Some(run.events.as_slice()),
            Outcome::Broken(_) => None,
        })
        .collect();
    let effects = effects::tally(&histories)?;
    let text = format!(
        "# jepsen-like soak\n\n{}\n\nCommand: `jepsen-like soak --runs {} --time {} --nemesis {} --seed {}` \
         (clients {}, rate {}/s, stock {}, nodes {}, security {}).\n\n## Runs\n\n{}\n{}\n\n\
         ## What each fault does to buys\n\n\
         Over every run: the buys invoked while a fault of that kind was in force (`none`: no fault), \
         how they ended, how slow the ok ones were, and per fault window the longest time without \
         any ok buy completing (median over the windows, and the worst).\n\n{}\n![soak](soak.png)\n",
        machine_line(),
        args.runs,
        args.time,
        args.nemesis.names(),
        rows.first().map_or(0, |r| r.seed),
        args.shape.clients,
        args.shape.rate,
        args.shape.stock,
        args.shape.nodes,
        args.shape.security.name(),
        runs_table(rows).render(),
        tally_line(rows),
        effects_table(&effects).render(),
    );
    std::fs::write(args.out.join("soak.md"), text)?;
    write_plot(&args.out.join("soak.png"), &effects)
}

/// One row per run: seed, operations, faults by kind, anomalies per check, verdict.
fn runs_table(rows: &[Row]) -> Table {
    let checks: Vec<String> = rows
        .iter()
        .find_map(|row| match &row.outcome {
            Outcome::Checked(run) => Some(run.results.checks.keys().cloned().collect()),
            Outcome::Broken(_) => None,
        })
        .unwrap_or_default();
    let mut headers = vec!["seed", "ops", "buys ok/fail/info", "faults"];
    headers.extend(checks.iter().map(String::as_str));
    headers.push("verdict");
    let mut table = Table::new(&headers);
    for row in rows {
        let mut cells = vec![row.seed.to_string()];
        match &row.outcome {
            Outcome::Checked(run) => {
                cells.push(run.results.stats["ops"].to_string());
                cells.push(buy_outcomes(&run.events));
                cells.push(faults_by_kind(&run.events));
                for check in &checks {
                    let count = run.results.checks.get(check).map(|c| c.anomalies.len());
                    cells.push(count.map_or("-".into(), |n| n.to_string()));
                }
            }
            Outcome::Broken(err) => {
                cells.push("-".into());
                cells.push("-".into());
                cells.push(err.replace('|', "/"));
                cells.extend(checks.iter().map(|_| "-".to_string()));
            }
        }
        cells.push(verdict(row).to_string());
        table.row(cells);
    }
    table
}

/// How many runs were valid, and the runs that were not.
fn tally_line(rows: &[Row]) -> String {
    let valid = rows.iter().filter(|r| verdict(r) == "valid").count();
    let mut line = format!("{valid} of {} runs valid.", rows.len());
    for row in rows.iter().filter(|r| verdict(r) != "valid") {
        line.push_str(&format!(
            " Seed {}: {} (files in `{}`).",
            row.seed,
            verdict(row),
            row.dir.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    line
}

/// `ok/fail/info` of the run's buys.
fn buy_outcomes(events: &[Event]) -> String {
    let mut counts = [0usize; 3];
    for event in events.iter().filter(|e| e.f == Function::Buy) {
        match event.kind {
            crate::history::EventType::Ok => counts[0] += 1,
            crate::history::EventType::Fail => counts[1] += 1,
            crate::history::EventType::Info => counts[2] += 1,
            crate::history::EventType::Invoke => {}
        }
    }
    format!("{}/{}/{}", counts[0], counts[1], counts[2])
}

/// The faults started in the run, `kind xN`, with failed starts or heals marked.
fn faults_by_kind(events: &[Event]) -> String {
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for event in events.iter().filter(|e| e.f == Function::Nemesis) {
        let kind = event.str_field("fault").unwrap_or("?");
        let entry = kinds.entry(kind).or_default();
        if event.str_field("phase") == Some("start") && event.str_field("error").is_none() {
            entry.0 += 1;
        }
        if event.str_field("error").is_some() {
            entry.1 += 1;
        }
    }
    let parts: Vec<String> = kinds
        .into_iter()
        .map(|(kind, (started, errors))| match errors {
            0 => format!("{kind} {started}"),
            _ => format!("{kind} {started} ({errors} failed)"),
        })
        .collect();
    parts.join(", ")
}

fn effects_table(effects: &[effects::Effect]) -> Table {
    let mut table = Table::new(&[
        "fault",
        "windows",
        "buys",
        "ok %",
        "fail",
        "info",
        "ok p50 ms",
        "ok p99 ms",
        "no ok buy for, median s",
        "worst s",
    ]);
    let secs = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.2}")
        }
    };
    for effect in effects {
        table.row(vec![
            effect.kind.clone(),
            effect.windows.to_string(),
            effect.buys.to_string(),
            format!("{:.1}", effect.ok_percent()),
            effect.fail.to_string(),
            effect.info.to_string(),
            if effect.ok == 0 {
                "-".into()
            } else {
                ms(effect.ok_p50_ms)
            },
            if effect.ok == 0 {
                "-".into()
            } else {
                ms(effect.ok_p99_ms)
            },
            secs(effect.gap_median_s),
            secs(effect.gap_max_s),
        ]);
    }
    table
}

/// Three panels, one bar per fault kind: share of buys ok, p99 of the ok ones, and the
/// median longest stretch without an ok buy.
fn write_plot(path: &Path, effects: &[effects::Effect]) -> anyhow::Result<()> {
    let bars = |f: &dyn Fn(&effects::Effect) -> f64| {
        effects
            .iter()
            .map(|e| (e.kind.clone(), f(e)))
            .filter(|(_, v)| !v.is_nan())
            .collect::<Vec<_>>()
    };
    chart::write_bars(
        path,
        &[
            Bars {
                title: "Buys answered ok, by fault in force".into(),
                x_label: "% of buys sent during the fault".into(),
                bars: bars(&|e| e.ok_percent()),
                color: 2,
            },
            Bars {
                title: "Latency of ok buys, p99".into(),
                x_label: "milliseconds".into(),
                bars: bars(&|e| e.ok_p99_ms),
                color: 0,
            },
            Bars {
                title: "Longest time without an ok buy".into(),
                x_label: "seconds, median over the fault's windows".into(),
                bars: bars(&|e| e.gap_median_s),
                color: 1,
            },
        ],
    )
}
