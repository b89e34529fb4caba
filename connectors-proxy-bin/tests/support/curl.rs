//! Running the real `curl` and reading what it received.

use std::process::Command;

/// What curl received for one request.
#[derive(Debug)]
pub(crate) struct CurlResponse {
    /// The final status code.
    pub(crate) status: u16,
    /// Interim (1xx) status codes received before the final one.
    pub(crate) interim: Vec<u16>,
    /// Final response header fields in order; names lowercase.
    pub(crate) headers: Vec<(String, String)>,
    /// The response body.
    pub(crate) body: Vec<u8>,
    /// Everything curl wrote to stdout (all header blocks and the body).
    pub(crate) raw: Vec<u8>,
}

impl CurlResponse {
    /// All values of response header `name`.
    pub(crate) fn header_values(&self, name: &str) -> Vec<&str> {
        super::header_values(&self.headers, name)
    }

    /// The first value of response header `name`.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics when it is not JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Asserts the body is `{"error": word, "message": sentence}` and returns the word.
    pub(crate) fn error_word(&self) -> String {
        let json = self.json();
        let message = json["message"].as_str();
        assert!(message.is_some_and(|m| !m.is_empty()), "no message: {json}");
        json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error word: {json}"))
            .to_owned()
    }
}

/// Runs `curl -sS -i --path-as-is <args>` (30 s limit) and parses its output.
pub(crate) fn curl(args: &[&str]) -> CurlResponse {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--path-as-is", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(output.stdout)
}

/// Splits curl's `-i` output into header blocks and the body.
pub(crate) fn parse(raw: Vec<u8>) -> CurlResponse {
    let mut rest = &raw[..];
    let mut interim = Vec::new();
    loop {
        let end = find(rest, b"\r\n\r\n").expect("a complete header block");
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        if (100..200).contains(&status) && status != 101 {
            interim.push(status);
            continue;
        }
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let body = rest.to_vec();
        return CurlResponse {
            status,
            interim,
            headers,
            body,
            raw,
        };
    }
}

/// The position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
