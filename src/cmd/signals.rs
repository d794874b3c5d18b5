//! Signals, in one place: SIGINT and SIGTERM (Ctrl-C elsewhere). A run counts them (first:
//! start nothing new; second: abandon in-flight waits); `quiesce sim` stops on the first.

use crate::error::Error;
use crate::exec;

/// First Ctrl-C (or SIGTERM): start nothing new. Second: abandon in-flight waits.
///
/// The handlers are registered before this returns, so that a signal arriving as soon as the
/// run starts is already ours (and not the default "terminate at once").
pub(crate) fn forward(interrupts: exec::Interrupts) -> Result<(), Error> {
    let mut signals = Signals::register()
        .map_err(|e| Error::Internal(format!("cannot listen for signals: {e}")))?;
    tokio::spawn(async move {
        signals.next().await;
        interrupts.stop();
        signals.next().await;
        interrupts.abandon();
    });
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened to from the moment of registration.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn register() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    #[cfg(not(unix))]
    fn register() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
