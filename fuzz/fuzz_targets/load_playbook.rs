//! Any bytes through the playbook loader (parse + validate) and the diagnostic renderer: no
//! panic, no hang (serde-saphyr's budget bounds alias expansion).

#![no_main]

use libfuzzer_sys::fuzz_target;
use quiesce::{Source, load, render_human, render_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source::new("fuzz.yaml", text);
    let lookup = |name: &str| (name == "SET").then(|| "value".to_owned());
    if let Err(invalid) = load(&source, &lookup) {
        for diagnostic in invalid.diagnostics() {
            let _ = render_human(&diagnostic);
            let _ = render_json(&diagnostic);
        }
    }
});
