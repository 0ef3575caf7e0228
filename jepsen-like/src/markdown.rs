//! Markdown tables and the machine line every experiment's report starts with.

use std::fmt::Write as _;
use std::path::Path;

/// A Markdown table built row by row.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", self.headers.join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            self.headers
                .iter()
                .map(|_| " ---: ")
                .collect::<Vec<_>>()
                .join("|")
        );
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}

/// Formats milliseconds with two decimals.
pub(crate) fn ms(value: f64) -> String {
    format!("{value:.2}")
}

/// Cores, commit and date, so a table can be traced to where it was measured.
pub(crate) fn machine_line() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    format!("Machine: {cores} cores, Linux {os}; commit {commit}.")
}

/// Writes `DIR/<name>.md` with a title, the machine line and the body.
pub(crate) fn write_markdown(
    dir: &Path,
    name: &str,
    title: &str,
    body: &str,
) -> anyhow::Result<()> {
    let text = format!("# {title}\n\n{}\n\n{body}", machine_line());
    std::fs::write(dir.join(format!("{name}.md")), text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_markdown_table() {
        let mut table = Table::new(&["type", "p50 ms"]);
        table.row(vec!["query".into(), ms(1.234)]);
        let text = table.render();
        assert_eq!(
            text,
            "| type | p50 ms |\n| ---: | ---: |\n| query | 1.23 |\n"
        );
    }
}
