//! Child processes with captured logs: the registry and the proxy.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose stdout and stderr are collected; killed when dropped.
pub(crate) struct Running {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn");
        let logs = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().unwrap(), logs.clone());
        drain(child.stdout.take().unwrap(), logs.clone());
        Self { child, logs }
    }

    /// Everything the process printed so far.
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The address logged as `<listener> listening on ADDR` (`proxy` or `admin`).
    pub(crate) fn logged_addr(&self, listener: &str) -> SocketAddr {
        self.logs()
            .split(&format!("{listener} listening on "))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no {listener} address in the log"))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the logs contain `needle`.
    fn wait_for(&mut self, what: &str, found: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !found(&self.logs()) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what} exited with {status}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not start:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(stream: impl Read + Send + 'static, logs: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut logs = logs.lock().unwrap();
            logs.push_str(&line);
            logs.push('\n');
        }
    });
}

/// Debian's `docker-registry` with `auth` (a YAML block), storing in `dir`.
pub(crate) fn registry(dir: &Path, port: u16, auth: &str) -> Running {
    registry_at(dir, &format!("127.0.0.1:{port}"), "", auth)
}

/// `docker-registry` on `addr`, with `http` settings `http_extra` (YAML lines indented by two,
/// such as a `tls:` block) and `auth`, storing in `dir`.
pub(crate) fn registry_at(dir: &Path, addr: &str, http_extra: &str, auth: &str) -> Running {
    let config = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{http_extra}{auth}",
        dir.join("data").display()
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new("docker-registry");
    command.arg("serve").arg(&path);
    let mut running = Running::spawn(command);
    running.wait_for("docker-registry", |logs| logs.contains("listening on"));
    running
}

/// The `connectors-oci-proxy` binary serving `manifests` with `tokens`, its CA kept in a
/// `state` folder beside `manifests`.
pub(crate) fn proxy(manifests: &Path, tokens: &Path) -> (Running, SocketAddr) {
    let state = manifests.with_file_name("state");
    proxy_with(
        manifests,
        tokens,
        &["--state-dir".as_ref(), state.as_os_str()],
    )
}

/// The `connectors-oci-proxy` binary serving `manifests` with `tokens`, with more flags.
pub(crate) fn proxy_with(
    manifests: &Path,
    tokens: &Path,
    flags: &[&OsStr],
) -> (Running, SocketAddr) {
    let mut args: Vec<&OsStr> = vec![
        "--manifests".as_ref(),
        manifests.as_os_str(),
        "--token-file".as_ref(),
        tokens.as_os_str(),
    ];
    args.extend_from_slice(flags);
    proxy_process(&args, &[])
}

/// The `connectors-oci-proxy` binary on ephemeral ports with `args` and extra environment.
pub(crate) fn proxy_process(args: &[&OsStr], env: &[(&str, &OsStr)]) -> (Running, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors-oci-proxy"));
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info,connectors_proxy_oci=debug");
    let mut running = Running::spawn(command);
    running.wait_for("connectors-oci-proxy", |logs| {
        logs.contains("admin listening on ")
    });
    let addr = running.logged_addr("proxy");
    (running, addr)
}
