//! Blob transfers through the path and host forms against an htpasswd `docker-registry`:
//! chunked uploads, ranged reads, HEAD headers.

mod support;

use std::path::Path;

use support::fixture::{CLIENT_TOKEN, Conn};
use support::http::{Reply, curl};
use support::setup::{self, Setup};
use support::tee::Tee;

const REG: Conn<'static> = Conn {
    name: "reg",
    login: Some(("alice", "alice-pw")),
    granted: true,
};
const PREFIX: &str = "/v2/namespaces/ns/connectors/reg";

fn auth() -> String {
    format!("u:{CLIENT_TOKEN}")
}

/// ASCII bytes in which every offset is easy to tell apart.
fn content(len: usize) -> Vec<u8> {
    let text: String = (0..len / 5 + 1).map(|i| format!("{i:04} ")).collect();
    text.as_bytes()[..len].to_vec()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Uploads `bytes` in one `PUT` through `base` (`http://<proxy>` + repository path).
fn upload(base: &str, curl_extra: &[&str], bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "blob", bytes);
    let digest = support::digest(bytes);
    let start = curl(
        &[
            curl_extra,
            &[
                "-u",
                &auth(),
                "-X",
                "POST",
                &format!("{base}/blobs/uploads/"),
            ],
        ]
        .concat(),
    );
    assert_eq!(start.status, 202, "{}", start.body);
    let put = format!("{}&digest={digest}", start.header("location").unwrap());
    // A form content type would make the registry read the body as a form.
    let r = curl(
        &[
            curl_extra,
            &[
                "-u",
                &auth(),
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
            ],
            &["--data-binary", &format!("@{file}"), &put],
        ]
        .concat(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    digest
}

/// Pushes a blob and a manifest naming it as `team/app:v1`; returns (blob, manifest, manifest
/// digest).
fn push_image(s: &Setup) -> (Vec<u8>, String, String) {
    let base = s.proxy_url(&format!("{PREFIX}/team/app"));
    let blob = content(1000);
    let digest = upload(&base, &[], &blob);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": blob.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": blob.len()}],
    })
    .to_string();
    let r = curl(&[
        "-u",
        &auth(),
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        "--data-binary",
        &manifest,
        &format!("{base}/manifests/v1"),
    ]);
    assert_eq!(r.status, 201, "{}", r.body);
    let manifest_digest = support::digest(manifest.as_bytes());
    (blob, manifest, manifest_digest)
}

#[test]
fn chunked_uploads_keep_the_registry_locations() {
    let mut tee = None;
    let s = setup::basic(&[REG], |registry| {
        let t = Tee::start(registry);
        let address = format!("http://127.0.0.1:{}", t.port);
        tee = Some(t);
        address
    });
    let tee = tee.unwrap();
    let relay = format!("http://127.0.0.1:{}/v2", tee.port);
    let dir = tempfile::tempdir().unwrap();
    let blob = content(600 * 1024);
    let chunks = [
        &blob[..300 * 1024],
        &blob[300 * 1024..500 * 1024],
        &blob[500 * 1024..],
    ];
    let digest = support::digest(&blob);

    let start = curl(&[
        "-u",
        &auth(),
        "-X",
        "POST",
        &s.proxy_url(&format!("{PREFIX}/team/chunked/blobs/uploads/")),
    ]);
    assert_eq!(start.status, 202, "{}", start.body);
    let mut replies: Vec<Reply> = vec![start];
    let mut offset = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let file = write(dir.path(), &format!("chunk{i}"), chunk);
        let mut args: Vec<String> = [
            "-u",
            &auth(),
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &format!("Content-Range: {offset}-{}", offset + chunk.len() - 1),
            "--data-binary",
            &format!("@{file}"),
        ]
        .map(str::to_owned)
        .to_vec();
        // The middle chunk goes with chunked transfer encoding, the others with a length.
        if i == 1 {
            args.extend(["-H".to_owned(), "Transfer-Encoding: chunked".to_owned()]);
        }
        args.push(replies.last().unwrap().header("location").unwrap());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = curl(&args);
        assert_eq!(
            r.status,
            202,
            "chunk {i}: {}\n{}",
            r.body,
            s.registry.logs()
        );
        offset += chunk.len();
        assert_eq!(
            r.header("range"),
            Some(format!("0-{}", offset - 1)),
            "chunk {i}"
        );
        replies.push(r);
    }
    let put = format!(
        "{}&digest={digest}",
        replies.last().unwrap().header("location").unwrap()
    );
    let done = curl(&["-u", &auth(), "-X", "PUT", &put]);
    assert_eq!(done.status, 201, "{}", done.body);
    assert_eq!(done.header("docker-content-digest"), Some(digest.clone()));
    replies.push(done);

    // Every Location the client got is the registry's, byte for byte, under the proxy prefix.
    let sent = tee.locations();
    let got: Vec<String> = replies
        .iter()
        .map(|r| r.header("location").unwrap())
        .collect();
    assert_eq!(sent.len(), got.len(), "{sent:?}");
    for (registry, client) in sent.iter().zip(&got) {
        let rest = registry
            .strip_prefix(&relay)
            .unwrap_or_else(|| panic!("{registry}"));
        assert_eq!(client, &s.proxy_url(&format!("{PREFIX}{rest}")));
    }
    assert!(sent[..4].iter().all(|l| l.contains("?_state=")), "{sent:?}");

    // The registry holds the blob under its digest.
    let direct = curl(&[
        "-u",
        "alice:alice-pw",
        "-I",
        &s.registry_url(&format!("/v2/team/chunked/blobs/{digest}")),
    ]);
    assert_eq!(direct.status, 200);
    assert_eq!(
        direct.header("content-length"),
        Some(blob.len().to_string())
    );
    let pulled = curl(&[
        "-u",
        &auth(),
        &s.proxy_url(&format!("{PREFIX}/team/chunked/blobs/{digest}")),
    ]);
    assert_eq!(pulled.status, 200);
    assert!(
        pulled.body.as_bytes() == blob.as_slice(),
        "the pulled blob differs"
    );
}

#[test]
fn ranges_and_head_headers_pass_through() {
    let s = setup::basic(&[REG], |port| format!("http://127.0.0.1:{port}"));
    let (blob, manifest, manifest_digest) = push_image(&s);
    let digest = support::digest(&blob);
    let blob_url = s.proxy_url(&format!("{PREFIX}/team/app/blobs/{digest}"));

    let r = curl(&["-u", &auth(), "-H", "Range: bytes=10-99", &blob_url]);
    assert_eq!(r.status, 206, "{}", r.headers);
    assert_eq!(
        r.header("content-range").as_deref(),
        Some("bytes 10-99/1000")
    );
    assert_eq!(r.header("content-length").as_deref(), Some("90"));
    assert_eq!(r.body.as_bytes(), &blob[10..100]);

    let head = curl(&["-u", &auth(), "-I", &blob_url]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").as_deref(), Some("1000"));
    assert_eq!(head.header("docker-content-digest"), Some(digest));

    for reference in ["v1", manifest_digest.as_str()] {
        let head = curl(&[
            "-u",
            &auth(),
            "-I",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            &s.proxy_url(&format!("{PREFIX}/team/app/manifests/{reference}")),
        ]);
        assert_eq!(head.status, 200, "{reference}");
        assert_eq!(
            head.header("content-length"),
            Some(manifest.len().to_string())
        );
        assert_eq!(
            head.header("docker-content-digest").as_deref(),
            Some(manifest_digest.as_str())
        );
    }
}

#[test]
fn host_form_pulls_and_uploads() {
    let s = setup::basic(&[REG], |port| format!("http://127.0.0.1:{port}"));
    let (blob, manifest, manifest_digest) = push_image(&s);
    let digest = support::digest(&blob);
    let port = s.proxy_addr.port();
    for host in ["c-reg.ns", "c-reg.ns.svc", "c-reg.ns.svc.cluster.local"] {
        let connect = format!("{host}:80:127.0.0.1:{port}");
        let via = ["--connect-to", connect.as_str()];
        let url = |path: &str| format!("http://{host}{path}");
        let get = |extra: &[&str], path: &str| {
            curl(&[&via[..], &["-u", &auth()], extra, &[&url(path)]].concat())
        };

        let r = curl(&[&via[..], &[url("/v2/").as_str()]].concat());
        assert_eq!(r.status, 401, "{host}");
        assert_eq!(get(&[], "/v2/").status, 200, "{host}");
        let r = get(
            &["-H", "Accept: application/vnd.oci.image.manifest.v1+json"],
            "/v2/team/app/manifests/v1",
        );
        assert_eq!(r.status, 200, "{host}: {}", r.body);
        assert_eq!(r.body, manifest);
        assert_eq!(
            r.header("docker-content-digest"),
            Some(manifest_digest.clone())
        );
        let r = get(&[], &format!("/v2/team/app/blobs/{digest}"));
        assert_eq!(r.status, 200, "{host}");
        assert_eq!(r.body.as_bytes(), blob.as_slice());
        let r = get(
            &["-H", "Range: bytes=0-3"],
            &format!("/v2/team/app/blobs/{digest}"),
        );
        assert_eq!((r.status, r.body.as_str()), (206, "0000"), "{host}");
        let r = get(&[], "/v2/team/app/tags/list");
        assert!(r.body.contains(r#""v1""#), "{host}: {}", r.body);

        // An upload started in host form continues in host form, on the same host.
        let r = get(&["-X", "POST"], "/v2/team/hosted/blobs/uploads/");
        assert_eq!(r.status, 202, "{host}: {}", r.body);
        let location = r.header("location").unwrap();
        assert!(
            location.starts_with(&url("/v2/team/hosted/blobs/uploads/")),
            "{location}"
        );
        let hosted = upload(&url("/v2/team/hosted"), &via, b"hosted bytes");
        assert_eq!(hosted, support::digest(b"hosted bytes"));
    }
    // The path parser is not consulted in host form: a path-form path under a connector host
    // is a repository name the registry does not have.
    let r = curl(&[
        "--connect-to",
        &format!("c-reg.ns:80:127.0.0.1:{port}"),
        "-u",
        &auth(),
        &format!("http://c-reg.ns{PREFIX}/team/app/manifests/v1"),
    ]);
    assert_eq!(r.status, 404, "{}", r.body);
}
