//! Plan renderers: text for review, DOT and Mermaid for the graph. All read the one
//! [`PlanView`] that `plan --format json` prints, so the three cannot disagree.

use std::fmt::Write as _;

use crate::plan::{Action, Force, Gate, PlanView, SourceRef, StepView};

fn location(source: Option<&SourceRef>) -> String {
    source.map(SourceRef::to_string).unwrap_or_default()
}

fn force_note(step: &StepView) -> &'static str {
    match step.force {
        Force::NotNeeded => "",
        Force::RequiredAllowed => " [force]",
        Force::RequiredRefused => " [needs force: refused by settings]",
    }
}

/// The plan for people: header, counts, the steps wave by wave, then what stays as it is.
pub(crate) fn text(view: &PlanView) -> String {
    let mut out = String::new();
    let _ = write!(out, "Plan for `{}`", view.playbook.name);
    match &view.snapshot {
        Some(snapshot) => {
            let _ = writeln!(
                out,
                " against cluster `{}` (Elasticsearch {}, upgrade mode {})",
                snapshot.cluster_name,
                snapshot.version,
                if snapshot.upgrade_mode { "on" } else { "off" }
            );
        }
        None => {
            let _ = writeln!(
                out,
                " (offline: nothing was contacted; every target is assumed to need action)"
            );
        }
    }
    if let Some(description) = &view.playbook.description {
        let _ = writeln!(out, "  {description}");
    }
    let s = &view.summary;
    let mut parts = Vec::new();
    for (count, what) in [
        (s.stop_datafeed, "stop datafeed"),
        (s.close_job, "close job"),
        (s.open_job, "open job"),
        (s.start_datafeed, "start datafeed"),
        (s.upgrade_mode, "upgrade mode"),
        (s.snapshot_gate, "snapshot gate"),
        (s.maintenance, "maintenance calendar"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    let _ = writeln!(
        out,
        "  {} step(s){}{} · {} unchanged · {} wave(s)",
        s.steps,
        if parts.is_empty() { "" } else { ": " },
        parts.join(", "),
        s.unchanged,
        s.waves
    );
    if let Some(gate) = &view.snapshot_gate {
        gate_text(&mut out, gate);
    }
    if view.steps.is_empty() {
        let _ = writeln!(out, "\nNothing to change.");
    }
    let width = view
        .steps
        .iter()
        .map(|s| s.action.verb().len() + 1 + s.target.len())
        .max()
        .unwrap_or(0);
    // Grouped once: a plan of thousands of waves (a long `after` chain) stays linear.
    let mut waves: Vec<Vec<&StepView>> = vec![Vec::new(); s.waves];
    for step in &view.steps {
        if let Some(wave) = step.wave.checked_sub(1).and_then(|w| waves.get_mut(w)) {
            wave.push(step);
        }
    }
    for (index, steps) in waves.iter().enumerate() {
        let _ = writeln!(out, "\nWave {}", index + 1);
        for step in steps {
            let what = format!("{} {}", step.action.verb(), step.target);
            let after = if step.dependencies.is_empty() {
                String::new()
            } else if step.dependencies.len() > 4 {
                format!(" (after {} steps)", step.dependencies.len())
            } else {
                let ids: Vec<String> = step.dependencies.iter().map(|d| format!("#{d}")).collect();
                format!(" (after {})", ids.join(", "))
            };
            let _ = writeln!(
                out,
                "  #{:<3} {what:<width$}  {}{}{}  {}",
                step.id,
                step.reason,
                force_note(step),
                after,
                location(step.source.as_ref())
            );
        }
    }
    if !view.unchanged.is_empty() {
        let _ = writeln!(out, "\nUnchanged");
        for entry in &view.unchanged {
            let _ = writeln!(
                out,
                "  {} {}: {}  {}",
                entry.kind,
                entry.target,
                entry.reason,
                location(entry.source.as_ref())
            );
        }
    }
    out
}

/// The snapshot gate's findings: which snapshots the target version cannot open, and what the
/// plan does about each.
fn gate_text(out: &mut String, gate: &Gate) {
    let _ = writeln!(
        out,
        "\nSnapshot gate: Elasticsearch {} opens model snapshots with min_version {} or later; {} job(s) checked",
        gate.target_version, gate.oldest_openable, gate.jobs_checked
    );
    if gate.findings.is_empty() {
        let _ = writeln!(
            out,
            "  every snapshot of the targeted jobs opens on {}",
            gate.target_version
        );
        return;
    }
    let jobs: std::collections::BTreeSet<&str> =
        gate.findings.iter().map(|f| f.job.as_str()).collect();
    let _ = writeln!(
        out,
        "  {} job(s) with snapshots {} cannot open: {}",
        jobs.len(),
        gate.target_version,
        jobs.iter()
            .map(|j| format!("`{j}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for finding in &gate.findings {
        let then = finding
            .then
            .map(|then| format!("; then, no longer current, {}", then.describe()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  job `{}` {} snapshot `{}` (min_version {}): {}{then}",
            finding.job,
            if finding.current { "current" } else { "older" },
            finding.snapshot,
            finding.min_version,
            finding.remedy.describe()
        );
    }
}

fn label(step: &StepView) -> String {
    format!("#{} {}\n{}", step.id, step.action.verb(), step.target)
}

fn shape(action: Action) -> &'static str {
    match action {
        Action::StopDatafeed | Action::StartDatafeed => "ellipse",
        Action::CloseJob | Action::OpenJob => "box",
        Action::EnableUpgradeMode | Action::DisableUpgradeMode => "hexagon",
        Action::RefreshOpenJob | Action::RefreshCloseJob => "box3d",
        Action::UpgradeSnapshot | Action::DeleteSnapshot => "note",
        Action::ScheduleMaintenance | Action::RemoveMaintenance => "note",
    }
}

/// Graphviz DOT: one node per step, one edge per ordering constraint, labelled with its reason.
pub(crate) fn dot(view: &PlanView) -> String {
    let mut out = String::from("digraph plan {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    for step in &view.steps {
        let _ = writeln!(
            out,
            "  s{} [label={}, shape={}];",
            step.id,
            dot_quote(&label(step)),
            shape(step.action)
        );
    }
    for edge in &view.edges {
        let _ = writeln!(
            out,
            "  s{} -> s{} [label={}];",
            edge.from,
            edge.to,
            dot_quote(&edge.reason)
        );
    }
    out.push_str("}\n");
    out
}

fn dot_quote(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// Mermaid `flowchart`: the same graph, for Markdown renderers (GitHub, GitLab).
pub(crate) fn mermaid(view: &PlanView) -> String {
    let mut out = String::from("flowchart LR\n");
    for step in &view.steps {
        let text = label(step).replace('\n', "<br/>").replace('"', "#quot;");
        let (open, close) = match step.action {
            Action::StopDatafeed | Action::StartDatafeed => ("([", "])"),
            Action::CloseJob | Action::OpenJob => ("[", "]"),
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => ("{{", "}}"),
            Action::RefreshOpenJob | Action::RefreshCloseJob => ("[[", "]]"),
            Action::UpgradeSnapshot | Action::DeleteSnapshot => ("[/", "/]"),
            Action::ScheduleMaintenance | Action::RemoveMaintenance => ("[/", "/]"),
        };
        let _ = writeln!(out, "  s{}{open}\"{text}\"{close}", step.id);
    }
    for edge in &view.edges {
        let reason = edge.reason.replace('"', "#quot;").replace('`', "");
        let _ = writeln!(out, "  s{} -->|\"{reason}\"| s{}", edge.from, edge.to);
    }
    out
}
