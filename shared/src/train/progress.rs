//! Progress for long loops: a bar with ETA on a terminal, plain lines elsewhere.
//!
//! Under CI (`$CI` set) or when stderr is not a terminal, a bar would fill logs with control
//! characters, so [`Progress`] prints a line at every 10% instead, with rate and ETA.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display for `total` units of work.
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    next_line_at: u64,
    message: String,
}

impl Progress {
    /// Starts a display labelled `label` (e.g. `"noprop-dt seed 0"`).
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        let label = label.into();
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.clone());
            bar
        });
        Self {
            label,
            total,
            done: 0,
            started: Instant::now(),
            bar,
            next_line_at: 0,
            message: String::new(),
        }
    }

    /// Records `n` more units done.
    pub fn inc(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None => {
                if self.done >= self.next_line_at {
                    eprintln!("{}", self.line());
                    self.next_line_at = self.done + (self.total / 10).max(1);
                }
            }
        }
    }

    /// Sets a short status shown after the counts (e.g. the current loss).
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.message = message.into();
        if let Some(bar) = &self.bar {
            bar.set_message(self.message.clone());
        }
    }

    /// Ends the display with a summary line; returns the elapsed time.
    pub fn finish(self) -> Duration {
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "{}: {} done in {:.1}s {}",
            self.label,
            self.done,
            elapsed.as_secs_f64(),
            self.message
        );
        elapsed
    }

    /// Estimated time left from the rate so far (`None` before any progress).
    pub fn eta(&self) -> Option<Duration> {
        if self.done == 0 {
            return None;
        }
        let per_unit = self.started.elapsed().as_secs_f64() / self.done as f64;
        Some(Duration::from_secs_f64(
            per_unit * (self.total - self.done) as f64,
        ))
    }

    fn line(&self) -> String {
        let pct = 100.0 * self.done as f64 / self.total.max(1) as f64;
        let eta = self
            .eta()
            .map(|d| format!("eta {:.0}s", d.as_secs_f64()))
            .unwrap_or_default();
        format!(
            "{}: {}/{} ({pct:.0}%) {eta} {}",
            self.label, self.done, self.total, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_eta() {
        let mut p = Progress::new("test", 10);
        assert!(p.eta().is_none());
        p.inc(5);
        p.set_message("loss 0.1");
        assert!(p.eta().is_some());
        p.inc(100);
        assert_eq!(p.done, 10);
        assert_eq!(p.eta(), Some(Duration::ZERO));
        assert!(p.line().contains("10/10 (100%)"));
        p.finish();
    }
}
