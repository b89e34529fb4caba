//! A forward-proxy fixture: an HTTPS tool, a plain-HTTP tool, connectors for both and a proxy
//! that trusts the tool CA.

use super::fixture::{CLIENT_SA, CLIENT_TOKEN, TOOL_PASSWORD, TOOL_TOKEN, TOOL_USER};
use super::manifests::{Manifests, NS};
use super::proxy::ProxyProcess;
use super::tls_tool::{HttpsTool, TestCa};
use super::upstream::Upstream;

/// Basic connector whose address is the HTTPS tool.
pub(crate) const TLS_BASIC: &str = "tls-basic";
/// Bearer connector whose address is the plain-HTTP tool.
pub(crate) const HTTP_BEARER: &str = "http-bearer";

/// Basic connector whose address is the HTTPS tool spelled `https://localhost:<port>`.
pub(crate) const TLS_LOCAL: &str = "tls-local";
/// A second token of [`CLIENT_SA`] holding `@` and `:` (sent as `%40` and `%3A`).
pub(crate) const ODD_TOKEN: &str = "sa@token:with-colon-61c2";

/// A 16 KiB token of [`CLIENT_SA`], as a long JWT would be.
pub(crate) fn long_token() -> String {
    let mut token = String::from("long-");
    while token.len() < 16 * 1024 {
        token.push_str(&format!(
            "{:08x}",
            token.len() * 2_654_435_761 % 0xffff_ffff
        ));
    }
    token
}

/// Tools, manifests and a running proxy for forward-mode tests.
pub(crate) struct Forward {
    /// The CA that signed the HTTPS tool's certificate (trusted by the proxy).
    pub(crate) tool_ca: TestCa,
    /// The HTTPS tool, address of [`TLS_BASIC`].
    pub(crate) tls: HttpsTool,
    /// The plain-HTTP tool, address of [`HTTP_BEARER`].
    pub(crate) http: Upstream,
    /// The manifests folder.
    pub(crate) manifests: Manifests,
    /// The proxy.
    pub(crate) proxy: ProxyProcess,
}

impl Forward {
    /// The standard forward setup with extra proxy flags.
    pub(crate) fn start(args: &[&str]) -> Self {
        let tool_ca = TestCa::new();
        let tls = HttpsTool::start(&tool_ca);
        Self::around(tool_ca, tls, args)
    }

    /// The standard forward setup around an HTTPS tool made from `tool_ca`.
    pub(crate) fn around(tool_ca: TestCa, tls: HttpsTool, args: &[&str]) -> Self {
        let http = Upstream::start();
        let manifests = Manifests::new();
        manifests.basic_connector(TLS_BASIC, &tls.url(), TOOL_USER, TOOL_PASSWORD);
        manifests.bearer_connector(HTTP_BEARER, &http.url(), TOOL_TOKEN);
        let local = format!("https://localhost:{}", tls.addr().port());
        manifests.basic_connector(TLS_LOCAL, &local, TOOL_USER, TOOL_PASSWORD);
        manifests.grant(CLIENT_SA, &[TLS_BASIC, HTTP_BEARER, TLS_LOCAL, "missing"]);
        manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
        manifests.service_account_token(ODD_TOKEN, CLIENT_SA);
        manifests.service_account_token(&long_token(), CLIENT_SA);
        let proxy = start_proxy(&manifests, &tool_ca, args);
        Self {
            tool_ca,
            tls,
            http,
            manifests,
            proxy,
        }
    }

    /// `http://<user>:<token>@<proxy>` with `user` and `token` inserted as given (already
    /// percent-encoded by the caller).
    pub(crate) fn proxy_url(&self, user: &str, token: &str) -> String {
        format!("http://{user}:{token}@{}", self.proxy.proxy_addr)
    }

    /// The proxy URL for `team-a/<connectors>` with the client token.
    pub(crate) fn proxy_for(&self, connectors: &str) -> String {
        let user = connectors
            .split(',')
            .map(|c| format!("{NS}%2F{c}"))
            .collect::<Vec<_>>()
            .join(",");
        self.proxy_url(&user, CLIENT_TOKEN)
    }

    /// The proxy CA file (the only CA clients trust for intercepted hosts).
    pub(crate) fn proxy_ca(&self) -> String {
        self.proxy.ca_cert_path().display().to_string()
    }
}

/// Starts a proxy over `manifests`, trusting `tool_ca` upstream, with extra flags.
pub(crate) fn start_proxy(manifests: &Manifests, tool_ca: &TestCa, args: &[&str]) -> ProxyProcess {
    let mut all: Vec<String> = manifests.args();
    all.push("--upstream-ca-file".into());
    all.push(tool_ca.cert_path().display().to_string());
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    ProxyProcess::start(&all, &[])
}

/// Writes a basic-auth connector with `addressExtensions` (name, URL pairs).
pub(crate) fn connector_with_extensions(
    manifests: &Manifests,
    name: &str,
    address: &str,
    extensions: &[(&str, &str)],
    password: &str,
) {
    let mut yaml = format!(
        "apiVersion: connectors.alauda.io/v1alpha1\nkind: Connector\nmetadata:\n  name: {name}\n  \
         namespace: {NS}\nspec:\n  connectorClassName: {}\n  address: \"{address}\"\n  \
         addressExtensions:\n",
        super::manifests::CLASS
    );
    for (ext, value) in extensions {
        yaml.push_str(&format!("    - name: {ext}\n      value: \"{value}\"\n"));
    }
    yaml.push_str(&format!(
        "  auth:\n    name: basicAuth\n    secretRef:\n      name: {name}-secret\n"
    ));
    manifests.write(&format!("connector-{name}.yaml"), &yaml);
    manifests.basic_secret(name, TOOL_USER, password);
}
