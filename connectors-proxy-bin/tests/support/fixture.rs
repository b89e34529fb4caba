//! A proxy wired to one recording tool through a standard set of connectors.

use std::net::{SocketAddr, TcpListener};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::manifests::{Manifests, NS};
use super::proxy::ProxyProcess;
use super::upstream::{RecordedRequest, Reply, Upstream};

/// The client's ServiceAccount token, bound to every standard connector.
pub(crate) const CLIENT_TOKEN: &str = "client-sa-token-5b0e7d2c41";
/// A valid token whose ServiceAccount has no RoleBinding.
pub(crate) const INTRUDER_TOKEN: &str = "intruder-sa-token-93a1f6";
/// The ServiceAccount holding [`CLIENT_TOKEN`].
pub(crate) const CLIENT_SA: &str = "builder";
/// The tool user in the `basic` connector's Secret.
pub(crate) const TOOL_USER: &str = "tool-user";
/// The tool password in the `basic` connector's Secret.
pub(crate) const TOOL_PASSWORD: &str = "tool-password-e4c19a77";
/// The tool token in the `bearer` connector's Secret.
pub(crate) const TOOL_TOKEN: &str = "tool-bearer-token-2f8d63b0";

/// The standard connectors: `basic`, `bearer`, `optional`, `prefixed` (address path `/api`)
/// and `down` (a closed port); all granted to [`CLIENT_SA`].
pub(crate) const CONNECTORS: [&str; 5] = ["basic", "bearer", "optional", "prefixed", "down"];
/// Connector names granted to [`CLIENT_SA`] that no Connector object uses.
pub(crate) const UNCREATED: [&str; 2] = ["missing", "no-such-connector"];

/// A tool, the manifests describing it and a proxy serving them.
pub(crate) struct Fixture {
    /// The recording tool.
    pub(crate) upstream: Upstream,
    /// The manifests folder and token file.
    pub(crate) manifests: Manifests,
    /// The running proxy.
    pub(crate) proxy: ProxyProcess,
}

impl Fixture {
    /// The standard fixture with a tool answering `200 upstream ok`.
    pub(crate) fn start() -> Self {
        Self::with(Upstream::start(), &[], &[])
    }

    /// The standard fixture with a tool answering through `handler`.
    pub(crate) fn with_handler(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::with(Upstream::with_handler(handler), &[], &[])
    }

    /// The standard fixture around `upstream`, with extra proxy flags and environment.
    pub(crate) fn with(upstream: Upstream, args: &[&str], env: &[(&str, &str)]) -> Self {
        let manifests = standard_manifests(&upstream);
        let mut all_args: Vec<String> = manifests.args();
        all_args.extend(args.iter().map(|a| a.to_string()));
        let all_args: Vec<&str> = all_args.iter().map(String::as_str).collect();
        let proxy = ProxyProcess::start(&all_args, env);
        Self {
            upstream,
            manifests,
            proxy,
        }
    }

    /// The path-form base of a standard connector.
    pub(crate) fn url(&self, connector: &str) -> String {
        self.proxy.connector_url(NS, connector)
    }
}

/// The standard manifests pointing at `upstream`.
pub(crate) fn standard_manifests(upstream: &Upstream) -> Manifests {
    let manifests = Manifests::new();
    let tool = upstream.url();
    manifests.basic_connector("basic", &tool, TOOL_USER, TOOL_PASSWORD);
    manifests.bearer_connector("bearer", &tool, TOOL_TOKEN);
    manifests.optional_connector("optional", &tool);
    manifests.basic_connector("prefixed", &format!("{tool}/api"), TOOL_USER, TOOL_PASSWORD);
    let down = format!("http://{}", closed_port());
    manifests.basic_connector("down", &down, TOOL_USER, TOOL_PASSWORD);
    // The grant also names connectors that do not exist, so an authorized client can be shown
    // the 404 that only authorized clients get.
    let mut granted = CONNECTORS.to_vec();
    granted.extend(UNCREATED);
    manifests.grant(CLIENT_SA, &granted);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    manifests.service_account_token(INTRUDER_TOKEN, "intruder");
    manifests
}

/// An address on which nothing listens.
pub(crate) fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// `b64(s)`.
pub(crate) fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// The Authorization the tool expects for the `basic` connector.
pub(crate) fn tool_basic() -> String {
    format!("Basic {}", b64(&format!("{TOOL_USER}:{TOOL_PASSWORD}")))
}

/// The header line `Authorization: Bearer <CLIENT_TOKEN>`, for curl's `-H`.
pub(crate) fn bearer_header() -> String {
    format!("Authorization: Bearer {CLIENT_TOKEN}")
}

/// Every string that must never leave the proxy: secrets, client tokens and their encodings.
pub(crate) fn secret_needles() -> Vec<String> {
    let mut needles = vec![
        TOOL_PASSWORD.to_owned(),
        TOOL_TOKEN.to_owned(),
        CLIENT_TOKEN.to_owned(),
        INTRUDER_TOKEN.to_owned(),
    ];
    for plain in needles.clone() {
        needles.push(b64(&plain));
        needles.push(b64(&format!(":{plain}")));
        needles.push(b64(&format!("x:{plain}")));
    }
    needles.push(b64(&format!("{TOOL_USER}:{TOOL_PASSWORD}")));
    needles
}
