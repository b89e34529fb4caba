//! curl as the plain HTTP client of the suites.

use std::process::Command;

/// The status code and headers of a curl request, plus the body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: String,
}

/// Runs `curl -s -D - <args>`; the body goes to stdout after the headers.
pub(crate) fn curl(args: &[&str]) -> Reply {
    let out = Command::new("curl")
        .args(["-s", "-S", "-D", "-", "--max-time", "300"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut text = text.as_str();
    while text.starts_with("HTTP/1.1 100") {
        text = text.split_once("\r\n\r\n").map_or("", |(_, rest)| rest);
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no status from curl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    Reply {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

impl Reply {
    /// The first value of header `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}
