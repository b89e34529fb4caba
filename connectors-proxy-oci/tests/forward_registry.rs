//! The proxy as `https_proxy` in front of a token-auth registry served over HTTPS: clients
//! authenticate on `CONNECT` and trust the proxy's CA; the proxy intercepts the tunnel and
//! runs the registry's token flow with the connector's login.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::fixture::{CLIENT_TOKEN, Conn, OUTSIDER_TOKEN};
use support::http::curl;
use support::process::{self, Running};
use support::token_server::{self, TokenServer};
use support::{fixture, free_port_on, ok, tls, write_image};

struct Setup {
    dir: tempfile::TempDir,
    registry: Running,
    proxy: Running,
    proxy_addr: SocketAddr,
    tokens: TokenServer,
    /// `name:port` of the registry, with a name Go clients send through the proxy.
    registry_host: String,
}

impl Setup {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (name, ip) = tls::proxied_host();
        let signing = dir.path().join("token-cert.pem");
        let tokens = token_server::start_on(ip, &[("alice", "alice-pw")], &[], &signing).await;
        let port = free_port_on(ip);
        let cert = tls::server_cert(dir.path(), &name);
        let registry = process::registry_at(
            dir.path(),
            &format!("{ip}:{port}"),
            &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.cert.display(),
                cert.key.display()
            ),
            &token_server::registry_auth_at(&format!("{name}:{}", tokens.addr.port()), &signing),
        );
        let registry_host = format!("{name}:{port}");
        fixture::write(
            dir.path(),
            &format!("https://{registry_host}"),
            "cpaas.io/distribution-registry-token",
            &[Conn {
                name: "reg",
                login: Some(("alice", "alice-pw")),
                granted: true,
            }],
        );
        let state = dir.path().join("state");
        let (proxy, proxy_addr) = process::proxy_with(
            &dir.path().join("manifests"),
            &dir.path().join("tokens.csv"),
            &[
                "--state-dir".as_ref(),
                state.as_os_str(),
                "--upstream-ca-file".as_ref(),
                cert.ca.as_os_str(),
            ],
        );
        Self {
            dir,
            registry,
            proxy,
            proxy_addr,
            tokens,
            registry_host,
        }
    }

    /// A folder holding the proxy's CA as `ca.crt`, as `--print-ca-cert` gives it.
    fn proxy_ca_dir(&self) -> PathBuf {
        let out = Command::new(env!("CARGO_BIN_EXE_connectors-oci-proxy"))
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .arg("--print-ca-cert")
            .output()
            .unwrap();
        let pem = ok(&out);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        let certs = self.dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("ca.crt"), pem).unwrap();
        certs
    }

    /// `http://ns%2Freg:<token>@<proxy>`, the `https_proxy` of a client of connector `ns/reg`.
    fn proxy_url(&self, token: &str) -> String {
        format!("http://ns%2Freg:{token}@{}", self.proxy_addr)
    }

    fn reference(&self) -> String {
        format!("docker://{}/team/app:v1", self.registry_host)
    }

    /// `skopeo copy` of the OCI layout in `image` to the registry, as a client holding `token`
    /// that trusts the CA in `certs`.
    async fn push(&self, token: &str, certs: &Path, image: &Path) -> Output {
        let flags = ["--dest-no-creds", "--dest-cert-dir"];
        let from = format!("oci:{}:v1", image.display());
        self.copy(token, flags, certs, from, self.reference()).await
    }

    /// `skopeo copy` from the registry into an OCI layout in `out`; see [`Setup::push`].
    async fn pull(&self, token: &str, certs: &Path, out: &Path) -> Output {
        let flags = ["--src-no-creds", "--src-cert-dir"];
        let to = format!("oci:{}:v1", out.display());
        self.copy(token, flags, certs, self.reference(), to).await
    }

    async fn copy(
        &self,
        token: &str,
        [no_creds, cert_dir]: [&str; 2],
        certs: &Path,
        from: String,
        to: String,
    ) -> Output {
        let args = vec![
            "copy".to_owned(),
            no_creds.to_owned(),
            cert_dir.to_owned(),
            certs.display().to_string(),
            from,
            to,
        ];
        skopeo_via(self.proxy_url(token), args).await
    }
}

/// skopeo with `proxy_url` as its `https_proxy` and no registry credentials of its own.
async fn skopeo_via(proxy_url: String, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new("skopeo")
            .arg("--insecure-policy")
            .args(&args)
            .env("HTTPS_PROXY", &proxy_url)
            .env("https_proxy", &proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .expect("run skopeo")
    })
    .await
    .unwrap()
}

/// curl through the proxy as a client of `ns/reg` holding `token`.
async fn curl_via(s: &Setup, token: &str, ca: &Path, path: &str) -> support::http::Reply {
    let args = vec![
        "--suppress-connect-headers".to_owned(),
        "--proxy".to_owned(),
        format!("http://{}", s.proxy_addr),
        "--proxy-user".to_owned(),
        format!("ns/reg:{token}"),
        "--cacert".to_owned(),
        ca.display().to_string(),
        "-H".to_owned(),
        "Accept: application/vnd.oci.image.manifest.v1+json".to_owned(),
        format!("https://{}{path}", s.registry_host),
    ];
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skopeo_copies_in_and_out_through_the_forward_proxy() {
    let s = Setup::start().await;
    let certs = s.proxy_ca_dir();
    let image = tempfile::tempdir().unwrap();
    let digest = write_image(image.path());
    let pushed = s.push(CLIENT_TOKEN, &certs, image.path()).await;
    if !pushed.status.success() {
        eprintln!(
            "proxy:\n{}\nregistry:\n{}",
            s.proxy.logs(),
            s.registry.logs()
        );
    }
    ok(&pushed);

    let out = tempfile::tempdir().unwrap();
    ok(&s.pull(CLIENT_TOKEN, &certs, out.path()).await);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());

    // The client sees the registry as open: no challenge, no token, on any response.
    let ca = certs.join("ca.crt");
    let ping = curl_via(&s, CLIENT_TOKEN, &ca, "/v2/").await;
    assert_eq!(ping.status, 200, "{}{}", ping.headers, ping.body);
    let manifest = curl_via(&s, CLIENT_TOKEN, &ca, "/v2/team/app/manifests/v1").await;
    assert_eq!(manifest.status, 200, "{}", manifest.headers);
    assert_eq!(
        support::digest(manifest.body.as_bytes()),
        digest,
        "the manifest bytes came back unchanged"
    );
    for reply in [&ping, &manifest] {
        let head = reply.headers.to_ascii_lowercase();
        assert!(
            !head.contains("www-authenticate") && !head.contains("bearer"),
            "{head}"
        );
    }

    // Only the proxy asked for tokens, always with the connector's login: a client that had
    // seen the registry's challenge would have asked anonymously.
    let asked = s.tokens.requests.lock().unwrap().clone();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|(who, _)| who == "alice"), "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|(_, scopes)| scopes == &["repository:team/app:pull,push".to_owned()]),
        "{asked:?}"
    );
    let registry_logs = s.registry.logs();
    assert!(registry_logs.contains("auth.user.name=alice"));
    assert!(!s.proxy.logs().contains(CLIENT_TOKEN) && !s.proxy.logs().contains("alice-pw"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_without_access_is_refused_at_connect() {
    let s = Setup::start().await;
    let certs = s.proxy_ca_dir();
    let connect = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_connect}", "--proxy"])
        .arg(format!("http://{}", s.proxy_addr))
        .arg("--proxy-user")
        .arg(format!("ns/reg:{OUTSIDER_TOKEN}"))
        .arg("--cacert")
        .arg(certs.join("ca.crt"))
        .arg(format!("https://{}/v2/", s.registry_host))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&connect.stdout), "403");

    let out = tempfile::tempdir().unwrap();
    let pulled = s.pull(OUTSIDER_TOKEN, &certs, out.path()).await;
    assert!(!pulled.status.success());
    let stderr = String::from_utf8_lossy(&pulled.stderr);
    assert!(stderr.contains("Forbidden"), "{stderr}");

    assert!(s.tokens.requests.lock().unwrap().is_empty());
    assert!(!s.registry.logs().contains("/v2/"), "{}", s.registry.logs());
}
