//! The real `git` client, isolated from the user's and the system's configuration.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// A git client with its own empty HOME and no credential helper.
pub(crate) struct GitClient {
    home: TempDir,
}

impl GitClient {
    /// A client whose HOME is a fresh temporary folder.
    pub(crate) fn new() -> Self {
        let home = tempfile::tempdir().expect("create a git home");
        std::fs::write(home.path().join(".gitconfig"), "").expect("write .gitconfig");
        Self { home }
    }

    /// A path inside the client's HOME.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Runs `git <config as -c> <args>` in `dir`, returning the output whatever the status.
    pub(crate) fn try_run(&self, dir: &Path, config: &[String], args: &[&str]) -> Output {
        let mut command = Command::new("git");
        command
            .current_dir(dir)
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.path().join(".gitconfig"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env_remove("GIT_TRACE")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .args(["-c", "credential.helper=", "-c", "user.name=Test"])
            .args([
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "init.defaultBranch=main",
            ]);
        for entry in config {
            command.arg("-c").arg(entry);
        }
        command.args(args).output().expect("run git")
    }

    /// Like [`GitClient::try_run`], but panics unless git succeeds; returns stdout.
    pub(crate) fn run(&self, dir: &Path, config: &[String], args: &[&str]) -> String {
        let output = self.try_run(dir, config, args);
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates a work tree `name` with one commit holding `README` = `text`.
    pub(crate) fn new_repo(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("create a work tree");
        self.run(&dir, &[], &["init", "-q"]);
        std::fs::write(dir.join("README"), text).expect("write README");
        self.run(&dir, &[], &["add", "README"]);
        self.run(&dir, &[], &["commit", "-q", "-m", "first"]);
        dir
    }

    /// Commits `size` random (incompressible) bytes as `file` in `dir`; returns the new HEAD.
    pub(crate) fn commit_random(&self, dir: &Path, file: &str, size: usize) -> String {
        let mut data = vec![0u8; size];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut data))
            .expect("read random bytes");
        std::fs::write(dir.join(file), data).expect("write random file");
        self.run(dir, &[], &["add", file]);
        self.run(dir, &[], &["commit", "-q", "-m", "random data"]);
        self.head(dir)
    }

    /// The commit id `dir`'s HEAD points at.
    pub(crate) fn head(&self, dir: &Path) -> String {
        self.run(dir, &[], &["rev-parse", "HEAD"]).trim().to_owned()
    }
}
