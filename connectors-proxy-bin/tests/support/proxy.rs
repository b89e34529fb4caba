//! The `connectors-proxy` binary as a child process, with its logs captured.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running proxy; killed when dropped.
pub(crate) struct ProxyProcess {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// Where the proxy keeps its generated CA (a private folder per process).
    state: tempfile::TempDir,
    /// The reverse/forward proxy listener.
    pub(crate) proxy_addr: SocketAddr,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub(crate) admin_addr: SocketAddr,
}

impl ProxyProcess {
    /// Starts the binary with `args` and extra environment, listening on ephemeral ports.
    ///
    /// `--listen`, `--admin-listen` and `--state-dir` are added here; the ports are read from
    /// the log.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_connectors-proxy"));
        command
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(state.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn connectors-proxy");
        let logs = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().expect("stderr"), logs.clone());
        drain(child.stdout.take().expect("stdout"), logs.clone());

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let text = logs.lock().unwrap().clone();
            let proxy = find_addr(&text, "proxy listening on ");
            let admin = find_addr(&text, "admin listening on ");
            if let (Some(proxy_addr), Some(admin_addr)) = (proxy, admin) {
                return Self {
                    child,
                    logs,
                    state,
                    proxy_addr,
                    admin_addr,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                let text = logs.lock().unwrap().clone();
                panic!("connectors-proxy exited with {status} before listening; its log:\n{text}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("connectors-proxy did not report both listeners within 30 s; log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The CA certificate (PEM file) that signs intercepted TLS.
    pub(crate) fn ca_cert_path(&self) -> std::path::PathBuf {
        self.state.path().join("ca.crt")
    }

    /// Everything the process wrote so far (stderr and stdout).
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:<proxy port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.proxy_addr)
    }

    /// `http://127.0.0.1:<admin port>`.
    pub(crate) fn admin_url(&self) -> String {
        format!("http://{}", self.admin_addr)
    }

    /// The path-form base of a connector: `http://<proxy>/namespaces/<ns>/connectors/<name>`.
    pub(crate) fn connector_url(&self, ns: &str, name: &str) -> String {
        format!("{}/namespaces/{ns}/connectors/{name}", self.url())
    }

    /// Sends SIGTERM without waiting.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the proxy") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to 30 s for the exit status.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        self.terminate();
        self.wait_exit(Duration::from_secs(30))
            .expect("connectors-proxy did not exit within 30 s of SIGTERM")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copies `reader` line by line into `logs` on a background thread.
fn drain(reader: impl Read + Send + 'static, logs: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let text = strip_ansi(&String::from_utf8_lossy(&line));
            logs.lock().unwrap().push_str(&text);
            line.clear();
        }
    });
}

/// Finds `<marker><ip>:<port>` in the log.
pub(crate) fn find_addr(text: &str, marker: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let rest = &line[line.find(marker)? + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

/// Removes terminal colour sequences (`ESC [ ... m`).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
