//! One node of the cluster under test as a real operating-system process:
//! started from the user's command line (through `sh -c 'exec …'`, so shell
//! quoting works and the process is the node itself, not a shell around
//! it), fed lines on stdin by a writer thread (a stopped process must not
//! block the router), read line by line on stdout by a reader thread, its
//! stderr appended to a log file. Paused with SIGSTOP, resumed with
//! SIGCONT, crashed with SIGKILL.

use super::clock;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Instant;

/// What a reader thread reports to the router.
pub enum Incoming {
    /// Node `node`, in its `life`-th run, wrote `line` on stdout.
    Line {
        node: usize,
        life: u64,
        line: String,
        at: Instant,
    },
    /// Its stdout closed: it exited, or was killed.
    Closed { node: usize, life: u64, at: Instant },
}

/// A running node process.
pub struct NodeProcess {
    child: Child,
    /// Lines for its stdin; dropping it ends the writer thread.
    stdin: Sender<String>,
    pub life: u64,
    pub stderr_log: PathBuf,
}

/// How to start a node: the command line (with `{node}` and `{data_dir}`
/// replaced), where its stderr goes, and its data directory, if any.
pub struct Launch<'a> {
    pub command: &'a str,
    pub node: usize,
    pub life: u64,
    pub stderr_log: &'a Path,
    pub data_dir: Option<&'a Path>,
}

impl Launch<'_> {
    /// The shell command for this node: `{node}` becomes `n1`, `n2`, ...,
    /// and `{data_dir}` the node's data directory.
    pub fn shell_command(&self) -> String {
        let mut command = self
            .command
            .replace("{node}", &format!("n{}", self.node + 1));
        if let Some(dir) = self.data_dir {
            command = command.replace("{data_dir}", &dir.display().to_string());
        }
        format!("exec {command}")
    }
}

impl NodeProcess {
    /// Starts the process; what it writes reaches `incoming`.
    pub fn start(launch: &Launch<'_>, incoming: &Sender<Incoming>) -> Result<NodeProcess, String> {
        let name = format!("n{}", launch.node + 1);
        if let Some(dir) = launch.data_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("{name}: data directory {}: {e}", dir.display()))?;
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.stderr_log)
            .map_err(|e| format!("{name}: {}: {e}", launch.stderr_log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(launch.shell_command())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("{name}: cannot start {:?}: {e}", launch.command))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stdin = child.stdin.take().expect("piped");
        let (node, life) = (launch.node, launch.life);
        let tx = incoming.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match reader.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&bytes).trim_end().to_owned();
                        let at = clock::now();
                        if tx
                            .send(Incoming::Line {
                                node,
                                life,
                                line,
                                at,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(Incoming::Closed {
                node,
                life,
                at: clock::now(),
            });
        });
        let (lines, rx): (Sender<String>, Receiver<String>) = mpsc::channel();
        thread::spawn(move || {
            for mut line in rx {
                line.push('\n');
                if stdin.write_all(line.as_bytes()).is_err() || stdin.flush().is_err() {
                    return; // the process is gone: what it was sent is lost with it
                }
            }
        });
        Ok(NodeProcess {
            child,
            stdin: lines,
            life,
            stderr_log: launch.stderr_log.to_path_buf(),
        })
    }

    /// Queues `line` for the process's stdin.
    pub fn send(&self, line: String) {
        let _ = self.stdin.send(line);
    }

    pub fn pause(&self) -> Result<(), String> {
        self.signal(nix::sys::signal::Signal::SIGSTOP)
    }

    pub fn resume(&self) -> Result<(), String> {
        self.signal(nix::sys::signal::Signal::SIGCONT)
    }

    fn signal(&self, signal: nix::sys::signal::Signal) -> Result<(), String> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).map_err(|e| format!("{signal}: {e}"))
    }

    /// `kill -9`, and waits for it to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last lines of its stderr log, for a report.
    pub fn stderr_tail(&self, lines_max: usize) -> String {
        let text = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(lines_max)..].join("\n")
    }
}
