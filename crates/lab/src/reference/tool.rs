//! Running external programs: finding them on PATH, running one with a time limit in a private
//! folder, and reporting a failure with the end of its stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest one external command may run before it is killed and counted as a failure.
pub const TIME_LIMIT: Duration = Duration::from_secs(600);

/// The full path of `program`: itself when it holds a `/`, else the first executable file of
/// that name on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Runs `argv` in `dir` with stdin closed, returning its wall time, or a message with the exit
/// status and the last lines of stderr when it fails, cannot start, or runs past `limit`.
pub fn run(argv: &[String], dir: &Path, limit: Duration) -> Result<Duration, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let start = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    // Drain stderr on a thread so a chatty tool never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(format!("{prog} ran longer than {} s and was stopped", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("{prog}: {e}")),
        }
    };
    let elapsed = start.elapsed();
    let err = reader.join().unwrap_or_default();
    if status.success() {
        Ok(elapsed)
    } else {
        let text = String::from_utf8_lossy(&err);
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        Err(format!("{} exited with {status}{}{tail}", prog, if tail.is_empty() { "" } else { ": " }))
    }
}

/// The first non-empty line a program prints for `args` (its version banner), if any.
pub fn banner(argv: &[&str]) -> Option<String> {
    let (prog, args) = argv.split_first()?;
    let out = Command::new(prog).args(args).stdin(Stdio::null()).output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    // "ffmpeg version 5.1 Copyright (c) …": the version is what matters.
    let line = line.split(" Copyright").next().unwrap_or(line).trim();
    Some(line.chars().take(100).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_and_reports_failures() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-tessera").is_none());
        let dir = tempfile::tempdir().unwrap();
        let ok = run(&["true".into()], dir.path(), TIME_LIMIT);
        assert!(ok.is_ok());
        let argv: Vec<String> =
            ["sh", "-c", "echo broken input >&2; exit 3"].iter().map(|s| s.to_string()).collect();
        let e = run(&argv, dir.path(), TIME_LIMIT).unwrap_err();
        assert!(e.contains("broken input") && e.contains('3'), "{e}");
        let e = run(&["no-such-program-tessera".into()], dir.path(), TIME_LIMIT).unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
        let slow: Vec<String> = ["sleep", "5"].iter().map(|s| s.to_string()).collect();
        let e = run(&slow, dir.path(), Duration::from_millis(100)).unwrap_err();
        assert!(e.contains("stopped"), "{e}");
    }
}
