//! `--help` and the manual: the examples every command's help ends with run as written (those
//! that contact nothing or only the embedded simulator, and change nothing), and `quiesce man`
//! prints the page of the whole command or writes one page per command.

use crate::validate::quiesce;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example commands of `quiesce SUBCOMMAND --help`.
fn examples(subcommand: &str) -> Vec<String> {
    let help = quiesce(&[subcommand, "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    let section = &help[help
        .find("Examples:\n")
        .unwrap_or_else(|| panic!("`quiesce {subcommand} --help` has no examples:\n{help}"))..];
    section
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .filter(|line| line.starts_with("quiesce "))
        .map(str::to_owned)
        .collect()
}

/// Whether an example can run here as written: it contacts nothing or only the embedded
/// simulator, changes nothing, and writes no file.
fn runnable(words: &[&str]) -> bool {
    let contacts_nothing = matches!(
        words[1],
        "validate" | "schema" | "completions" | "man" | "runs"
    ) || words.contains(&"--offline");
    let simulated = words.iter().any(|w| w.starts_with("sim:"));
    let changes = matches!(words[1], "apply" | "resume" | "revert" | "sim");
    let writes = words.contains(&"-o") || words.contains(&"--dir");
    (contacts_nothing || simulated) && !changes && !writes
}

#[test]
fn the_examples_in_every_help_run_as_written() {
    let help = text(&quiesce(&["--help"]).stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    let mut ran = 0;
    for subcommand in commands {
        for example in examples(subcommand) {
            // The part before a pipe or a redirection is quiesce's; the rest is the shell's.
            let own = example.split(['|', '>']).next().expect("a command");
            let words: Vec<&str> = own.split_whitespace().collect();
            // A glob, as the shell would expand it.
            let mut args: Vec<String> = Vec::new();
            for word in &words[1..] {
                if let Some(dir) = word.strip_suffix("/*.yaml") {
                    args.extend(crate::validate::yaml_files(dir));
                } else {
                    args.push((*word).to_owned());
                }
            }
            if !runnable(&words) {
                continue;
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = quiesce(&args);
            // With `--detailed-exitcode`, 4 (changes pending) is an answer too.
            let answered = match output.status.code() {
                Some(0) => true,
                Some(4) => words.contains(&"--detailed-exitcode"),
                _ => false,
            };
            assert!(answered, "`{example}`:\n{}", text(&output.stderr));
            ran += 1;
        }
    }
    assert!(ran >= 12, "only {ran} examples ran");
}

#[test]
fn man_prints_the_page_of_the_whole_command() {
    let output = quiesce(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = text(&output.stdout);
    assert!(page.contains(".TH quiesce 1"), "{page}");
    for expected in ["validate", "capture", "Exit codes", "130"] {
        assert!(page.contains(expected), "`{expected}` in the page");
    }
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("man1");
    let output = quiesce(&["man", "--dir", &out.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "pages go to files");
    for page in [
        "quiesce.1",
        "quiesce-apply.1",
        "quiesce-validate.1",
        "quiesce-man.1",
    ] {
        let roff =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(roff.contains(".TH "), "{page}");
    }
    let apply = std::fs::read_to_string(out.join("quiesce-apply.1")).expect("apply page");
    assert!(apply.contains("Examples:"), "{apply}");
    assert!(text(&output.stderr).contains("manual page(s)"));
}
