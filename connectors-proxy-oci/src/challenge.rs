//! Reading `WWW-Authenticate` challenges with the RFC 9110 auth-param grammar.
//!
//! A header holds one or more challenges: `scheme [token68 | name=value, …]`, where a value is
//! a token or a quoted string with `\` escapes, so commas inside quotes belong to the value.
//! Parameter names and schemes compare case-insensitively. The parser never fails: malformed
//! input yields what could be read.

/// One challenge: an auth scheme and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent, such as `Bearer`.
    pub scheme: String,
    /// A token68 credential hint, when the challenge carries one instead of parameters.
    pub token68: Option<String>,
    /// The parameters in order, names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether this challenge uses `scheme`, compared case-insensitively.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The first value of parameter `name`, compared case-insensitively.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses every challenge in the given header values, in order.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    values.into_iter().flat_map(parse).collect()
}

/// Parses the challenges in one `WWW-Authenticate` value.
pub fn parse(value: &str) -> Vec<Challenge> {
    let mut cursor = Cursor {
        bytes: value.as_bytes(),
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        cursor.skip(|b| b == b',' || is_ows(b));
        if cursor.at_end() {
            return challenges;
        }
        let scheme = cursor.token();
        if scheme.is_empty() {
            // Not a token: skip to the next list element.
            cursor.skip(|b| b != b',');
            continue;
        }
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        cursor.skip(is_ows);
        challenge.token68 = cursor.token68();
        if challenge.token68.is_none() {
            read_params(&mut cursor, &mut challenge.params);
        }
        challenges.push(challenge);
    }
}

/// Reads `name=value` pairs until the input ends or the next challenge begins.
fn read_params(cursor: &mut Cursor<'_>, params: &mut Vec<(String, String)>) {
    loop {
        let start = cursor.pos;
        cursor.skip(|b| b == b',' || is_ows(b));
        let name = cursor.token();
        cursor.skip(is_ows);
        if name.is_empty() || !cursor.eat(b'=') {
            // A token without `=` starts the next challenge.
            cursor.pos = start;
            return;
        }
        cursor.skip(is_ows);
        let value = if cursor.peek() == Some(b'"') {
            cursor.quoted()
        } else {
            cursor.token()
        };
        params.push((name.to_ascii_lowercase(), value));
        cursor.skip(is_ows);
        if !cursor.at_end() && cursor.peek() != Some(b',') {
            // Junk after a value: drop it up to the next list element.
            cursor.skip(|b| b != b',');
        }
        if cursor.at_end() {
            return;
        }
    }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip(&mut self, keep_going: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&keep_going) {
            self.pos += 1;
        }
    }

    fn text(&self, start: usize) -> String {
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        self.skip(is_tchar);
        self.text(start)
    }

    /// A token68 followed by the end or a comma; otherwise nothing is consumed.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        self.skip(is_token68_char);
        if self.pos == start {
            return None;
        }
        self.skip(|b| b == b'=');
        let end = self.pos;
        self.skip(is_ows);
        if self.at_end() || self.peek() == Some(b',') {
            let bytes = &self.bytes[start..end];
            return Some(String::from_utf8_lossy(bytes).into_owned());
        }
        self.pos = start;
        None
    }

    /// A quoted string starting at `"`, unescaped; an unterminated one runs to the end.
    fn quoted(&mut self) -> String {
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.pos += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests;
