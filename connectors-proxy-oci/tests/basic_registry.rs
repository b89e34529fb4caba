//! The proxy in front of a `docker-registry` with htpasswd Basic auth, driven by skopeo.

mod support;

use support::fixture::{CLIENT_TOKEN, Conn, OUTSIDER_TOKEN};
use support::http::curl;
use support::setup::{self, Setup};
use support::{ok, pull, push, skopeo, write_image};

fn setup() -> Setup {
    let conns = [
        Conn {
            name: "reg",
            login: Some(("alice", "alice-pw")),
            granted: true,
        },
        Conn {
            name: "locked",
            login: Some(("alice", "alice-pw")),
            granted: false,
        },
    ];
    setup::basic(&conns, |port| format!("http://127.0.0.1:{port}"))
}

#[test]
fn skopeo_pushes_inspects_and_pulls_through_the_proxy() {
    let s = setup();
    let image = tempfile::tempdir().unwrap();
    let digest = write_image(image.path());
    let reference = format!(
        "docker://{}/namespaces/ns/connectors/reg/team/app:v1",
        s.proxy_addr
    );
    let creds = format!("u:{CLIENT_TOKEN}");
    ok(&push(&creds, image.path(), &reference));

    let inspect = ok(&skopeo(&[
        "inspect",
        "--creds",
        &creds,
        "--tls-verify=false",
        &reference,
    ]));
    let inspected: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());

    let (pulled, pulled_digest) = pull(&creds, &reference);
    ok(&pulled);
    assert_eq!(pulled_digest.as_deref(), Some(digest.as_str()));

    // The registry saw the connector's user; the client only ever had its token.
    assert!(s.registry.logs().contains("alice"), "{}", s.registry.logs());
    assert!(!s.proxy.logs().contains(CLIENT_TOKEN));
    assert!(!s.proxy.logs().contains("alice-pw"));
}

#[test]
fn version_check_and_refusals() {
    let s = setup();
    let base = format!("http://{}", s.proxy_addr);
    let r = curl(&[&format!("{base}/v2/")]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(r#"Basic realm="connectors-oci-proxy""#)
    );
    assert!(r.body.contains(r#""code":"UNAUTHORIZED""#), "{}", r.body);
    let auth = format!("u:{CLIENT_TOKEN}");
    assert_eq!(curl(&["-u", &auth, &format!("{base}/v2/")]).status, 200);
    assert_eq!(
        curl(&[
            "-H",
            &format!("Authorization: Bearer {CLIENT_TOKEN}"),
            &format!("{base}/v2")
        ])
        .status,
        200
    );
    assert_eq!(
        curl(&["-u", "u:not-a-token", &format!("{base}/v2/")]).status,
        401
    );

    let secret_path =
        |conn: &str| format!("{base}/v2/namespaces/ns/connectors/{conn}/secret/repo/manifests/v1");
    let r = curl(&["-u", "u:not-a-token", &secret_path("reg")]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(r#"Basic realm="connectors-oci-proxy""#)
    );
    let r = curl(&["-u", &format!("u:{OUTSIDER_TOKEN}"), &secret_path("reg")]);
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains(r#""code":"DENIED""#) && r.body.contains(r#""error":"forbidden""#),
        "{}",
        r.body
    );
    assert_eq!(curl(&["-u", &auth, &secret_path("locked")]).status, 403);
    assert_eq!(curl(&["-u", &auth, &secret_path("missing")]).status, 403);
    assert!(
        !s.registry.logs().contains("secret/repo"),
        "the registry saw a refused request"
    );

    // An authorized request reaches the registry, which answers for itself.
    let r = curl(&["-u", &auth, &secret_path("reg")]);
    assert_eq!(r.status, 404);
    assert!(s.registry.logs().contains("secret/repo"));
}

#[test]
fn a_256_mib_blob_streams_through_with_bounded_memory() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob");
    {
        use std::io::Write as _;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&blob).unwrap());
        let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
        for i in 0..256u32 {
            let mut c = chunk.clone();
            c[..4].copy_from_slice(&i.to_be_bytes());
            file.write_all(&c).unwrap();
        }
    }
    let digest = support::digest(&std::fs::read(&blob).unwrap());
    let auth = format!("u:{CLIENT_TOKEN}");
    let repo = format!(
        "http://{}/v2/namespaces/ns/connectors/reg/big/blob",
        s.proxy_addr
    );
    let start = curl(&["-u", &auth, "-X", "POST", &format!("{repo}/blobs/uploads/")]);
    assert_eq!(start.status, 202, "{}", start.body);
    let location = start.header("location").unwrap();
    assert!(
        location.contains("/v2/namespaces/ns/connectors/reg/big/blob/blobs/uploads/"),
        "{location}"
    );
    let location = if location.starts_with('/') {
        format!("http://{}{location}", s.proxy_addr)
    } else {
        location
    };
    let put = format!("{location}&digest={digest}");
    let r = curl(&[
        "-u",
        &auth,
        "-T",
        blob.to_str().unwrap(),
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        &put,
    ]);
    assert_eq!(r.status, 201, "{} {put}\n{}", r.body, s.registry.logs());

    // HEAD keeps the registry's length and digest.
    let head = curl(&["-u", &auth, "-I", &format!("{repo}/blobs/{digest}")]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").as_deref(), Some("268435456"));
    assert_eq!(
        head.header("docker-content-digest").as_deref(),
        Some(digest.as_str())
    );

    let pulled = dir.path().join("pulled");
    let r = curl(&[
        "-u",
        &auth,
        "-o",
        pulled.to_str().unwrap(),
        &format!("{repo}/blobs/{digest}"),
    ]);
    assert_eq!(r.status, 200);
    assert_eq!(support::digest(&std::fs::read(&pulled).unwrap()), digest);
    let peak = support::peak_rss_kib(s.proxy.pid());
    println!(
        "proxy peak RSS after a 256 MiB push and pull: {} MiB",
        peak / 1024
    );
    assert!(
        peak < 128 * 1024,
        "proxy peak RSS {peak} KiB: the blob was buffered"
    );
}
