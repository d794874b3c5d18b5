//! The real `quiesce-sim` binary, for the tests of its command line: [`SimProcess`] runs it,
//! checks its `listening on http://HOST:PORT` first line, keeps what it writes and kills it on
//! drop; [`assert_seed_refused`] checks that a bad seed stops it before it listens.

use std::io::{BufRead, BufReader, Read};
use std::ops::Deref;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tempfile::NamedTempFile;

use super::cluster::{SeedText, TestCluster};
use crate::EsVersion;

/// How long the binary may take to print its `listening on` line (a hung start, not a slow one).
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// A running `quiesce-sim` process and a [`TestCluster`] client for it (through `Deref`).
/// Killed when dropped.
pub struct SimProcess {
    cluster: TestCluster,
    child: Child,
    /// What the process wrote to stdout after its `listening on` line.
    stdout_rest: Arc<Mutex<String>>,
    /// Everything it wrote to stderr.
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// Keeps an inline seed's file alive as long as the process.
    _seed_file: Option<NamedTempFile>,
    /// The CA file of `--tls --ca-out`, kept as long as the process.
    _ca_file: Option<tempfile::TempPath>,
}

impl SimProcess {
    pub(super) async fn spawn(
        binary: &Path,
        args: Vec<String>,
        seed: &SeedText,
        version: EsVersion,
        tls: bool,
    ) -> SimProcess {
        // An inline seed goes to a temporary file for the process.
        let seed_file = match seed {
            SeedText::Yaml(yaml) => Some(write_seed(yaml)),
            SeedText::Empty | SeedText::File(_) => None,
        };
        let ca_file = tls.then(|| {
            tempfile::Builder::new()
                .prefix("quiesce-sim-ca-")
                .suffix(".pem")
                .tempfile()
                .unwrap_or_else(|error| panic!("cannot create a CA file: {error}"))
                .into_temp_path()
        });
        let mut command = Command::new(binary);
        command.args(&args);
        if let Some(ca) = &ca_file {
            command.arg("--ca-out").arg(ca);
        }
        match (seed, &seed_file) {
            (SeedText::File(path), _) => {
                command.arg("--seed").arg(path);
            }
            (_, Some(file)) => {
                command.arg("--seed").arg(file.path());
            }
            _ => {}
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let source = child.stderr.take().expect("piped stderr");
            let into = Arc::clone(&stderr);
            std::thread::spawn(move || copy_lines(BufReader::new(source), &into))
        };
        let (first_line, stdout_reader) = watch_stdout(
            child.stdout.take().expect("piped stdout"),
            Arc::clone(&stdout_rest),
        );
        let line = tokio::task::spawn_blocking(move || {
            first_line.recv_timeout(STARTUP_LIMIT).ok().flatten()
        })
        .await
        .expect("join the line reader");
        let Some(line) = line else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = stderr_reader.join();
            let stderr = read(&stderr);
            panic!("quiesce-sim printed no `listening on` line; stderr:\n{stderr}");
        };
        let base = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stdout line is not `listening on …`: {line:?}"))
            .to_owned();
        let scheme = if tls { "https" } else { "http" };
        let prefix = format!("{scheme}://127.0.0.1:");
        assert!(
            base.starts_with(&prefix) && base[prefix.len()..].parse::<u16>().is_ok(),
            "the listening URL should be {prefix}PORT, got {base}"
        );
        let ca_pem = ca_file.as_ref().map(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_else(|error| panic!("quiesce-sim wrote no CA file: {error}"))
        });
        SimProcess {
            cluster: TestCluster::serving(base, version, None, ca_pem),
            child,
            stdout_rest,
            stderr,
            readers: vec![stderr_reader, stdout_reader],
            _seed_file: seed_file,
            _ca_file: ca_file,
        }
    }

    /// Kills the process and gives what it wrote: (stdout after the first line, stderr).
    pub fn finish(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The pipes close with the process, so the readers reach their end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (read(&self.stdout_rest), read(&self.stderr))
    }
}

impl Deref for SimProcess {
    type Target = TestCluster;

    fn deref(&self) -> &TestCluster {
        &self.cluster
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary at `binary` on a bad seed (YAML text): it must exit non-zero, never print
/// `listening on`, and say why on stderr. Gives its stderr.
///
/// # Panics
/// When the binary cannot run or the seed is not refused that way.
pub fn assert_seed_refused(binary: impl AsRef<Path>, yaml: &str, what: &str) -> String {
    let seed = write_seed(yaml);
    let output = Command::new(binary.as_ref())
        .args(["--listen", "127.0.0.1:0", "--seed"])
        .arg(seed.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.as_ref().display()));
    assert!(!output.status.success(), "{what}: the seed must be refused");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("listening on"),
        "{what}: must not listen: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.is_empty(), "{what}: says why on stderr");
    stderr
}

fn write_seed(yaml: &str) -> NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("quiesce-sim-seed-")
        .suffix(".yaml")
        .tempfile()
        .unwrap_or_else(|error| panic!("cannot create a seed file: {error}"));
    std::io::Write::write_all(&mut file, yaml.as_bytes())
        .unwrap_or_else(|error| panic!("cannot write the seed file: {error}"));
    file
}

/// Sends the first stdout line (or `None` at its end) on the returned channel, then keeps
/// appending every further line to `rest`, so the pipe never fills and tests can see it.
fn watch_stdout(
    stdout: impl Read + Send + 'static,
    rest: Arc<Mutex<String>>,
) -> (mpsc::Receiver<Option<String>>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line),
            _ => None,
        };
        let _ = tx.send(first);
        copy_lines(reader, &rest);
    });
    (rx, reader)
}

fn copy_lines(mut reader: impl BufRead, into: &Mutex<String>) {
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if let Ok(mut text) = into.lock() {
            text.push_str(&line);
        }
        line.clear();
    }
}

fn read(text: &Mutex<String>) -> String {
    text.lock().map(|s| s.clone()).unwrap_or_default()
}
