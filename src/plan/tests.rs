//! Planning against hand-made snapshots: which steps, which edges, which problems.

use std::collections::BTreeMap;

use crate::model::load;
use crate::observe::{DatafeedMode, ObservedDatafeed, ObservedJob, Snapshot};
use crate::observe::{ObservedDatafeedState as Df, ObservedJobState as Job};
use crate::playbook::Source;

use super::*;

fn cluster(jobs: &[(&str, Job, &[&str])], feeds: &[(&str, &str, Df)]) -> Snapshot {
    let mut snapshot = Snapshot {
        cluster_name: "test".into(),
        cluster_uuid: "uuid".into(),
        version: "8.15.0".into(),
        upgrade_mode: false,
        jobs: BTreeMap::new(),
        datafeeds: BTreeMap::new(),
    };
    for (id, state, groups) in jobs {
        snapshot.jobs.insert(
            (*id).into(),
            ObservedJob {
                state: *state,
                groups: groups.iter().map(|g| (*g).to_owned()).collect(),
                model_bytes: 100 << 20,
                node: None,
                assignment_explanation: None,
                datafeed: None,
            },
        );
    }
    for (id, job, state) in feeds {
        snapshot.jobs.get_mut(*job).expect("job exists").datafeed = Some((*id).into());
        snapshot.datafeeds.insert(
            (*id).into(),
            ObservedDatafeed {
                job_id: (*job).into(),
                state: *state,
                mode: if *state == Df::Started {
                    DatafeedMode::RealTime
                } else {
                    DatafeedMode::NotRunning
                },
                node: None,
                assignment_explanation: None,
            },
        );
    }
    snapshot
}

fn plan(yaml: &str, snapshot: Option<Snapshot>) -> Result<(Plan, Vec<PlanProblem>), InvalidPlan> {
    let source = Source::new("test.yaml", format!("version: 1\n{yaml}"));
    let playbook = load(&source, &|_| None).expect("valid playbook");
    build(&playbook, &source, snapshot, None)
}

fn steps(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| format!("{} {}", s.action.verb(), s.target))
        .collect()
}

fn edge(plan: &Plan, from: &str, to: &str) -> bool {
    let find = |text: &str| {
        plan.steps
            .iter()
            .find(|s| format!("{} {}", s.action.verb(), s.target) == text)
            .unwrap_or_else(|| panic!("no step `{text}` in {:?}", steps(plan)))
            .id
    };
    plan.dependencies(find(to)).contains(&find(from))
}

fn codes(err: &InvalidPlan) -> Vec<String> {
    use miette::Diagnostic;
    err.problems
        .iter()
        .map(|p| p.code().map(|c| c.to_string()).unwrap_or_default())
        .collect()
}

#[test]
fn closing_a_job_stops_its_running_datafeed_first_even_unnamed() {
    let snapshot = cluster(
        &[
            ("prod-a", Job::Opened, &[]),
            ("prod-b", Job::Closed, &[]),
            ("web", Job::Opened, &[]),
        ],
        &[
            ("df-a", "prod-a", Df::Started),
            ("df-web", "web", Df::Started),
        ],
    );
    let (plan, warnings) = plan(
        "jobs:\n  - match: \"prod-*\"\n    state: closed\n",
        Some(snapshot),
    )
    .expect("plans");
    assert!(warnings.is_empty());
    assert_eq!(steps(&plan), ["stop datafeed df-a", "close job prod-a"]);
    assert!(edge(&plan, "stop datafeed df-a", "close job prod-a"));
    assert!(plan.steps[0].reason.contains("feeds job `prod-a`"));
    assert_eq!(plan.unchanged.len(), 1, "prod-b is already closed");
    assert_eq!(plan.waves().len(), 2);
}

#[test]
fn restoring_opens_jobs_before_starting_their_datafeeds() {
    let snapshot = cluster(
        &[("web", Job::Closed, &[]), ("pay", Job::Closed, &[])],
        &[
            ("df-web", "web", Df::Stopped),
            ("df-pay", "pay", Df::Stopped),
        ],
    );
    let yaml = "jobs:\n  - match: \"*\"\n    state: opened\ndatafeeds:\n  - match: \"df-*\"\n    state: started\n";
    let (plan, _) = plan(yaml, Some(snapshot)).expect("plans");
    assert!(edge(&plan, "open job web", "start datafeed df-web"));
    assert!(edge(&plan, "open job pay", "start datafeed df-pay"));
    assert!(!edge(&plan, "open job pay", "start datafeed df-web"));
}

#[test]
fn selectors_match_job_groups_like_elasticsearch() {
    let snapshot = cluster(
        &[
            ("a", Job::Opened, &["payments"]),
            ("b", Job::Opened, &["web"]),
        ],
        &[],
    );
    let (plan, _) = plan(
        "jobs:\n  - match: payments\n    state: closed\n",
        Some(snapshot),
    )
    .expect("plans");
    assert_eq!(steps(&plan), ["close job a"]);
}

#[test]
fn a_missing_explicit_id_is_an_error_at_its_line() {
    let snapshot = cluster(&[("a", Job::Opened, &[])], &[]);
    let err =
        plan("jobs:\n  - id: nope\n    state: closed\n", Some(snapshot)).expect_err("unknown");
    assert_eq!(codes(&err), ["quiesce::plan::unknown_id"]);
}

#[test]
fn a_selector_matching_nothing_warns_unless_required() {
    let snapshot = cluster(&[("a", Job::Opened, &[])], &[]);
    let (_, warnings) = plan(
        "jobs:\n  - match: \"x-*\"\n    state: closed\n",
        Some(snapshot.clone()),
    )
    .expect("plans");
    assert_eq!(warnings.len(), 1);
    let err = plan(
        "settings:\n  require_match: true\njobs:\n  - match: \"x-*\"\n    state: closed\n",
        Some(snapshot),
    )
    .expect_err("required");
    assert_eq!(codes(&err), ["quiesce::plan::no_match"]);
}

#[test]
fn a_failed_job_needs_force_and_the_plan_says_whether_settings_allow_it() {
    let snapshot = cluster(&[("a", Job::Failed, &[])], &[]);
    let (never, _) = plan(
        "jobs:\n  - id: a\n    state: closed\n",
        Some(snapshot.clone()),
    )
    .expect("plans");
    assert_eq!(never.steps[0].force, Force::RequiredRefused);
    let (allowed, _) = plan(
        "settings:\n  force: after_timeout\njobs:\n  - id: a\n    state: closed\n",
        Some(snapshot),
    )
    .expect("plans");
    assert_eq!(allowed.steps[0].force, Force::RequiredAllowed);
}

#[test]
fn upgrade_mode_on_blocks_everything_unless_disabled_first() {
    let mut snapshot = cluster(&[("a", Job::Closed, &[])], &[]);
    snapshot.upgrade_mode = true;
    let err = plan(
        "jobs:\n  - id: a\n    state: opened\n",
        Some(snapshot.clone()),
    )
    .expect_err("blocked");
    assert_eq!(codes(&err), ["quiesce::plan::upgrade_mode"]);
    let (plan, _) = plan(
        "jobs:\n  - id: a\n    state: opened\nupgrade_mode: disabled\n",
        Some(snapshot),
    )
    .expect("plans");
    assert!(edge(&plan, "disable upgrade mode _ml", "open job a"));
}

#[test]
fn upgrade_mode_enabled_comes_after_every_close() {
    let snapshot = cluster(
        &[("a", Job::Opened, &[]), ("b", Job::Opened, &[])],
        &[("df-a", "a", Df::Started)],
    );
    let (plan, _) = plan(
        "jobs:\n  - match: \"*\"\n    state: closed\nupgrade_mode: enabled\n",
        Some(snapshot),
    )
    .expect("plans");
    for step in ["close job a", "close job b", "stop datafeed df-a"] {
        assert!(edge(&plan, step, "enable upgrade mode _ml"), "{step}");
    }
    assert_eq!(plan.waves().len(), 3);
}

#[test]
fn after_closing_a_loop_with_the_implicit_order_is_a_cycle() {
    let snapshot = cluster(&[("a", Job::Opened, &[])], &[("df-a", "a", Df::Started)]);
    let yaml = "jobs:\n  - id: a\n    state: closed\ndatafeeds:\n  - id: df-a\n    state: stopped\n    after: [a]\n";
    let err = plan(yaml, Some(snapshot)).expect_err("cycle");
    assert_eq!(codes(&err), ["quiesce::plan::cycle"]);
    let text = err.problems[0].to_string();
    assert!(
        text.contains("close job `a` -> stop datafeed `df-a` -> close job `a`")
            || text.contains("stop datafeed `df-a` -> close job `a` -> stop datafeed `df-a`"),
        "{text}"
    );
}

#[test]
fn after_orders_entries_of_the_same_direction() {
    let snapshot = cluster(&[("a", Job::Opened, &[]), ("b", Job::Opened, &[])], &[]);
    let yaml =
        "jobs:\n  - id: a\n    state: closed\n  - id: b\n    state: closed\n    after: [a]\n";
    let (plan, _) = plan(yaml, Some(snapshot)).expect("plans");
    assert!(edge(&plan, "close job a", "close job b"));
}

#[test]
fn starting_a_datafeed_whose_job_stays_closed_is_an_error() {
    let snapshot = cluster(&[("a", Job::Closed, &[])], &[("df-a", "a", Df::Stopped)]);
    let err = plan(
        "datafeeds:\n  - id: df-a\n    state: started\n",
        Some(snapshot),
    )
    .expect_err("job closed");
    assert_eq!(codes(&err), ["quiesce::plan::job_not_open"]);
}

#[test]
fn offline_plans_assume_every_target_needs_action() {
    let yaml = "jobs:\n  - id: a\n    state: closed\n  - match: \"prod-*\"\n    state: closed\ndatafeeds:\n  - id: df-a\n    job: a\n    state: stopped\n";
    let (plan, _) = plan(yaml, None).expect("plans");
    assert_eq!(
        steps(&plan),
        ["stop datafeed df-a", "close job prod-*", "close job a"],
        "numbered by wave, then action"
    );
    assert!(edge(&plan, "stop datafeed df-a", "close job a"));
    assert!(plan.steps.iter().all(|s| s.reason.starts_with("offline")));
}

#[test]
fn nothing_to_do_means_no_changes() {
    let snapshot = cluster(&[("a", Job::Closed, &[])], &[("df-a", "a", Df::Stopped)]);
    let (plan, _) = plan(
        "jobs:\n  - id: a\n    state: closed\ndatafeeds:\n  - id: df-a\n    state: stopped\n",
        Some(snapshot),
    )
    .expect("plans");
    assert!(!plan.has_changes());
    assert_eq!(plan.unchanged.len(), 2);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A cluster of up to 8 jobs (opened or closed), some with a datafeed (started only when the
    /// job is opened), and a playbook that asks a random subset for a random state, with random
    /// `after` entries pointing at earlier entries of the same direction.
    fn case() -> impl Strategy<Value = (Snapshot, String)> {
        prop::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<u8>(),
            ),
            1..8,
        )
        .prop_map(|specs| {
            let mut jobs = Vec::new();
            let mut feeds = Vec::new();
            let mut yaml = String::from("jobs:\n");
            let mut feed_yaml = String::from("datafeeds:\n");
            let mut entries: Vec<(String, bool)> = Vec::new();
            for (i, (opened, with_feed, started, want_open, pick)) in specs.iter().enumerate() {
                let id = format!("job-{i}");
                jobs.push((id.clone(), if *opened { Job::Opened } else { Job::Closed }));
                if *with_feed {
                    feeds.push((
                        format!("df-{i}"),
                        id.clone(),
                        if *opened && *started {
                            Df::Started
                        } else {
                            Df::Stopped
                        },
                    ));
                }
                let state = if *want_open { "opened" } else { "closed" };
                let after: Vec<&str> = entries
                    .iter()
                    .filter(|(_, up)| up == want_open)
                    .map(|(name, _)| name.as_str())
                    .filter(|_| pick % 3 == 0)
                    .take(2)
                    .collect();
                yaml.push_str(&format!("  - id: {id}\n    state: {state}\n"));
                if !after.is_empty() {
                    yaml.push_str(&format!("    after: [{}]\n", after.join(", ")));
                }
                entries.push((id.clone(), *want_open));
                if *with_feed && *want_open && pick % 2 == 0 {
                    feed_yaml.push_str(&format!("  - id: df-{i}\n    state: started\n"));
                }
            }
            let job_refs: Vec<(&str, Job, &[&str])> = jobs
                .iter()
                .map(|(id, s)| (id.as_str(), *s, &[][..]))
                .collect();
            let feed_refs: Vec<(&str, &str, Df)> = feeds
                .iter()
                .map(|(id, job, s)| (id.as_str(), job.as_str(), *s))
                .collect();
            if feed_yaml.lines().count() > 1 {
                yaml.push_str(&feed_yaml);
            }
            (cluster(&job_refs, &feed_refs), yaml)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_plan_respects_its_edges_and_the_stop_before_close_rule((snapshot, yaml) in case()) {
            let source = Source::new("prop.yaml", format!("version: 1\n{yaml}"));
            let playbook = load(&source, &|_| None).expect("generated playbooks are valid");
            let Ok((plan, _)) = build(&playbook, &source, Some(snapshot.clone()), None) else {
                return Ok(());
            };
            let waves = plan.waves();
            let wave_of = |id: StepId| waves.iter().position(|w| w.contains(&id)).expect("in a wave");
            for edge in plan.edges() {
                prop_assert!(edge.from < edge.to, "numbered in order: {edge:?}");
                prop_assert!(wave_of(edge.from) < wave_of(edge.to), "{edge:?}");
            }
            for close in plan.steps.iter().filter(|s| s.action == Action::CloseJob) {
                if let Some((feed, observed)) = snapshot.datafeed_of(&close.target)
                    && observed.state != Df::Stopped
                {
                    let stop = plan
                        .steps
                        .iter()
                        .find(|s| s.action == Action::StopDatafeed && s.target == feed);
                    prop_assert!(stop.is_some(), "a running datafeed is stopped: {feed}");
                    prop_assert!(plan.dependencies(close.id).contains(&stop.expect("checked").id));
                }
            }
            for start in plan.steps.iter().filter(|s| s.action == Action::StartDatafeed) {
                let job = &snapshot.datafeeds[&start.target].job_id;
                if let Some(open) = plan.steps.iter().find(|s| s.action == Action::OpenJob && &s.target == job) {
                    prop_assert!(plan.dependencies(start.id).contains(&open.id));
                }
            }
        }
    }
}

#[test]
fn the_maintenance_event_comes_before_every_stop_and_close_and_before_upgrade_mode() {
    let snapshot = cluster(
        &[("web", Job::Opened, &[]), ("batch", Job::Closed, &[])],
        &[("df-web", "web", Df::Started)],
    );
    let (plan, _) = plan(
        "jobs:\n  - {match: '*', state: closed}\nupgrade_mode: enabled\nmaintenance:\n  calendar: upgrades\n  window: {start: 2036-12-01T20:00:00Z, end: 2036-12-02T00:00:00Z}\n",
        Some(snapshot),
    )
    .expect("plans");
    let schedule = "schedule maintenance on calendar upgrades";
    assert!(edge(&plan, schedule, "stop datafeed df-web"));
    assert!(edge(&plan, schedule, "close job web"));
    // Calendar writes are refused in upgrade mode (E10).
    assert!(edge(&plan, schedule, "enable upgrade mode _ml"));
    // Only the jobs the plan closes: `batch` was closed already.
    assert_eq!(
        plan.maintenance,
        Some(MaintenanceView::Schedule {
            calendar: "upgrades".into(),
            description: "maintenance window".into(),
            start_ms: 2_111_774_400_000,
            end_ms: 2_111_788_800_000,
            jobs: vec!["web".into()],
            before: None,
        })
    );
}

#[test]
fn the_maintenance_undo_comes_after_every_open_and_start_and_after_upgrade_mode() {
    let mut snapshot = cluster(
        &[("web", Job::Closed, &[])],
        &[("df-web", "web", Df::Stopped)],
    );
    snapshot.upgrade_mode = true;
    let (plan, _) = plan(
        "jobs:\n  - {id: web, state: opened}\ndatafeeds:\n  - {id: df-web, state: started}\nupgrade_mode: disabled\nmaintenance:\n  calendar: upgrades\n  undo: {run: 20261130T120000Z-abcd, jobs: [web], calendar: true}\n",
        Some(snapshot),
    )
    .expect("plans");
    let undo = "remove maintenance from calendar upgrades";
    assert!(edge(&plan, "open job web", undo));
    assert!(edge(&plan, "start datafeed df-web", undo));
    assert!(edge(&plan, "disable upgrade mode _ml", undo));
}

#[test]
fn the_maintenance_undo_waits_for_every_datafeed_it_brings_back() {
    // `df-api` was started already (a resumed revert finds its datafeeds so): its lookback may
    // still be analysing the window, so the removal waits for it too.
    let snapshot = cluster(
        &[("web", Job::Closed, &[]), ("api", Job::Opened, &[])],
        &[
            ("df-web", "web", Df::Stopped),
            ("df-api", "api", Df::Started),
        ],
    );
    let (plan, _) = plan(
        "jobs:\n  - {match: '*', state: opened}\ndatafeeds:\n  - {match: '*', state: started}\nmaintenance:\n  calendar: upgrades\n  undo: {run: 20261130T120000Z-abcd, jobs: [web], calendar: false}\n",
        Some(snapshot),
    )
    .expect("plans");
    let Some(MaintenanceView::Undo { mut catch_up, .. }) = plan.maintenance else {
        panic!("an undo: {:?}", plan.maintenance);
    };
    catch_up.sort();
    assert_eq!(catch_up, ["df-api", "df-web"]);
}

#[test]
fn a_maintenance_window_wholly_in_the_past_is_refused() {
    let snapshot = cluster(&[("web", Job::Opened, &[])], &[]);
    let err = plan(
        "jobs:\n  - {id: web, state: closed}\nmaintenance:\n  calendar: upgrades\n  window: {start: 2020-01-01T20:00:00Z, end: 2020-01-02T00:00:00Z}\n",
        Some(snapshot),
    )
    .expect_err("refused");
    assert!(
        err.problems.iter().any(|p| matches!(p,
            PlanProblem::MaintenanceOver { end, .. } if end == "2020-01-02T00:00:00Z")),
        "{:?}",
        err.problems
    );
}

#[test]
fn a_plan_that_closes_no_job_schedules_nothing() {
    let snapshot = cluster(&[("web", Job::Closed, &[])], &[]);
    let (plan, _) = plan(
        "jobs:\n  - {id: web, state: closed}\nmaintenance:\n  calendar: upgrades\n  duration: 2h\n",
        Some(snapshot),
    )
    .expect("plans");
    assert!(plan.steps.is_empty(), "{:?}", steps(&plan));
    assert_eq!(plan.maintenance, None);
    assert!(plan.unchanged.iter().any(|u| u.kind == "maintenance"));
}

mod before_the_window {
    //! Issue 14: the snapshot gate and the capacity estimate, against hand-made outlooks.

    use super::*;
    use crate::model::EsVersion;
    use crate::observe::{JobOutlook, Memory, NodeRoom, Outlook, SnapshotInfo};
    use crate::plan::gate;

    fn snapshot(id: &str, version: &str) -> SnapshotInfo {
        SnapshotInfo {
            id: id.to_owned(),
            min_version: EsVersion::parse(version).ok(),
            min_version_text: version.to_owned(),
        }
    }

    fn outlook(jobs: &[(&str, &[SnapshotInfo], u64, bool)], memory: Option<Memory>) -> Outlook {
        Outlook {
            jobs: jobs
                .iter()
                .map(|(id, snapshots, mib, lazy)| {
                    (
                        (*id).to_owned(),
                        JobOutlook {
                            model_memory_limit: Some(mib << 20),
                            allow_lazy_open: *lazy,
                            model_snapshot_id: snapshots.last().map(|s| s.id.clone()),
                            snapshots: Some(snapshots.to_vec()),
                        },
                    )
                })
                .collect(),
            memory,
        }
    }

    fn planned(
        yaml: &str,
        snapshot: Snapshot,
        outlook: &Outlook,
    ) -> Result<(Plan, Vec<PlanProblem>), InvalidPlan> {
        let source = Source::new("test.yaml", format!("version: 1\n{yaml}"));
        let playbook = load(&source, &|_| None).expect("valid playbook");
        build(&playbook, &source, Some(snapshot), Some(outlook))
    }

    #[test]
    fn an_opened_job_the_plan_keeps_open_is_warned_about_not_refreshed() {
        let old = [snapshot("1", "7.17.0")];
        let outlook = outlook(&[("web", &old, 1024, false)], None);
        let (plan, warnings) = planned(
            "jobs:\n  - id: web\n    state: opened\nupgrade:\n  target_version: 9.0.0\n",
            cluster(&[("web", Job::Opened, &[])], &[]),
            &outlook,
        )
        .expect("plans");
        assert!(plan.steps.is_empty(), "nothing the plan can do");
        assert!(
            matches!(&warnings[..], [PlanProblem::SnapshotNotRefreshed { job, .. }] if job == "web"),
            "{warnings:?}"
        );
        let gate = plan.gate.expect("a gate");
        assert_eq!(gate.findings[0].remedy, gate::Remedy::Unremedied);
    }

    #[test]
    fn an_eight_x_target_accepts_seven_x_snapshots() {
        let old = [snapshot("1", "7.17.0")];
        let outlook = outlook(&[("web", &old, 1024, false)], None);
        let (plan, warnings) = planned(
            "jobs:\n  - id: web\n    state: closed\nupgrade:\n  target_version: 8.19.0\n",
            cluster(&[("web", Job::Closed, &[])], &[]),
            &outlook,
        )
        .expect("plans");
        assert!(warnings.is_empty() && plan.steps.is_empty());
        assert_eq!(plan.gate.expect("a gate").findings, []);
    }

    #[test]
    fn upgrades_of_one_job_run_one_at_a_time_before_its_close() {
        let snaps = [
            snapshot("1", "7.10.0"),
            snapshot("2", "7.11.0"),
            snapshot("3", "8.15.0"),
        ];
        let outlook = outlook(&[("web", &snaps, 1024, false)], None);
        let (plan, _) = planned(
            "jobs:\n  - id: web\n    state: closed\nupgrade:\n  target_version: 9.0.0\n  old_snapshots: upgrade\n",
            cluster(&[("web", Job::Opened, &[])], &[]),
            &outlook,
        )
        .expect("plans");
        let id = |target: &str| {
            plan.steps
                .iter()
                .find(|s| s.target == target)
                .map(|s| s.id)
                .expect(target)
        };
        let (first, second, close) = (id("web/1"), id("web/2"), id("web"));
        assert_eq!(plan.dependencies(second), [first]);
        assert_eq!(plan.dependencies(close), [second]);
    }

    #[test]
    fn opens_that_fit_go_first_and_a_misfit_is_an_error_unless_lazy() {
        let memory = Memory::Nodes(vec![NodeRoom {
            id: "n1".into(),
            name: "ml-1".into(),
            free: 2048 << 20,
            has_native_overhead: true,
            jobs: 0,
        }]);
        let yaml = "jobs:\n  - match: \"*\"\n    state: opened\n";
        let closed = cluster(
            &[
                ("a", Job::Closed, &[]),
                ("b", Job::Closed, &[]),
                ("c", Job::Closed, &[]),
            ],
            &[],
        );
        let strict = outlook(
            &[
                ("a", &[], 1000, false),
                ("b", &[], 900, false),
                ("c", &[], 800, false),
            ],
            Some(memory.clone()),
        );
        let err = planned(yaml, closed.clone(), &strict).expect_err("c does not fit");
        assert!(
            matches!(&err.problems[..], [PlanProblem::NoRoom { job, .. }] if job == "c"),
            "{:?}",
            err.problems
        );
        let lazy = outlook(
            &[
                ("a", &[], 1000, false),
                ("b", &[], 900, false),
                ("c", &[], 800, true),
            ],
            Some(memory),
        );
        let (plan, warnings) = planned(yaml, closed, &lazy).expect("a warning only");
        assert!(matches!(&warnings[..], [PlanProblem::NoRoomLazy { job, .. }] if job == "c"));
        let id = |target: &str| {
            plan.steps
                .iter()
                .find(|s| s.target == target)
                .expect(target)
                .id
        };
        let mut before = plan.dependencies(id("c"));
        before.sort();
        let mut fitting = vec![id("a"), id("b")];
        fitting.sort();
        assert_eq!(before, fitting);
    }
}
