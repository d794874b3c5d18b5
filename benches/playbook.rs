//! How `validate` and `plan --offline` scale with the size of a playbook: generated playbooks of
//! 10,000 to 100,000 entries (half jobs, half their datafeeds, as `capture` writes them) and a
//! 20,000-long `after:` chain, each read by the real binary as a child process.
//!
//! `cargo bench --bench playbook`. Prints wall time, CPU time and peak RSS of each command, and
//! the exponent of the growth from 10,000 to 100,000 entries (1 is linear, 2 quadratic).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "measure/mod.rs"]
mod measure;

/// `entries` entries: jobs `job-000000`… closed, and their datafeeds stopped.
fn playbook(entries: usize) -> String {
    let jobs = entries / 2;
    let mut text = String::from("version: 1\nname: generated\njobs:\n");
    for i in 0..jobs {
        let _ = write!(text, "  - id: job-{i:06}\n    state: closed\n");
    }
    text.push_str("datafeeds:\n");
    for i in 0..entries - jobs {
        let _ = write!(
            text,
            "  - id: datafeed-job-{i:06}\n    job: job-{i:06}\n    state: stopped\n"
        );
    }
    text
}

/// `entries` jobs, each closed after the one before it.
fn chain(entries: usize) -> String {
    let mut text =
        String::from("version: 1\nname: chain\njobs:\n  - id: job-000000\n    state: closed\n");
    for i in 1..entries {
        let _ = write!(
            text,
            "  - id: job-{i:06}\n    state: closed\n    after: [job-{:06}]\n",
            i - 1
        );
    }
    text
}

fn measure(args: &[&str], file: &Path) -> measure::Usage {
    let usage = measure::run(
        Command::new(env!("CARGO_BIN_EXE_quiesce"))
            .args(args)
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(
        usage.status.success(),
        "{args:?} {}: {}",
        file.display(),
        usage.status
    );
    usage
}

#[expect(clippy::print_stdout, reason = "the benchmark's table is its output")]
fn main() {
    let dir = tempfile::tempdir().expect("scratch directory");
    let mut rows = Vec::new();
    let sizes = [10_000, 20_000, 40_000, 100_000];
    let mut cases: Vec<(String, String)> = sizes
        .iter()
        .map(|&n| (format!("{n} entries"), playbook(n)))
        .collect();
    cases.push(("20000-long `after` chain".to_owned(), chain(20_000)));
    let mut totals = Vec::new();
    for (index, (name, text)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("playbook-{index}.yaml"));
        std::fs::write(&file, text).expect("playbook");
        let validate = measure(&["validate"], &file);
        let plan = measure(&["plan", "--offline"], &file);
        totals.push(validate.wall + plan.wall);
        rows.push((name.clone(), text.len(), validate, plan));
    }
    println!("| playbook | size | validate | plan --offline | together | CPU | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, bytes, validate, plan) in &rows {
        let cpu = validate.cpu.zip(plan.cpu).map(|(a, b)| a + b);
        let rss = validate.peak_rss.max(plan.peak_rss);
        println!(
            "| {name} | {} | {:.2}s | {:.2}s | {:.2}s | {} | {} |",
            measure::megabytes(u64::try_from(*bytes).unwrap_or(u64::MAX)),
            validate.wall.as_secs_f64(),
            plan.wall.as_secs_f64(),
            (validate.wall + plan.wall).as_secs_f64(),
            cpu.map_or("—".to_owned(), |c| format!("{:.2}s", c.as_secs_f64())),
            rss.map_or("—".to_owned(), measure::megabytes),
        );
    }
    let growth = totals[3].as_secs_f64() / totals[0].as_secs_f64();
    println!(
        "\ngrowth from 10,000 to 100,000 entries: x{growth:.1}, exponent {:.2} (1 is linear)",
        growth.log10()
    );
}
