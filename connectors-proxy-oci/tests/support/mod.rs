//! Real parts for the registry suites: Debian's `docker-registry`, the proxy binary, skopeo,
//! a token server, and the manifests that tie them together.
#![allow(dead_code)]

pub(crate) mod fixture;
pub(crate) mod http;
pub(crate) mod process;
pub(crate) mod setup;
pub(crate) mod tee;
pub(crate) mod tls;
pub(crate) mod token_server;

use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    free_port_on(IpAddr::from([127, 0, 0, 1]))
}

/// A port of `ip` nobody listens on right now.
pub(crate) fn free_port_on(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs skopeo with a permissive signature policy; panics with its output on failure.
pub(crate) fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("run skopeo (apt-get install skopeo)")
}

/// `skopeo copy` of the `v1` image in the OCI layout `image` to `reference` on a plain-HTTP
/// registry address, logging in with `creds`.
pub(crate) fn push(creds: &str, image: &Path, reference: &str) -> Output {
    let source = format!("oci:{}:v1", image.display());
    skopeo(&[
        "copy",
        "--dest-creds",
        creds,
        "--dest-tls-verify=false",
        &source,
        reference,
    ])
}

/// `skopeo copy` of `reference` (plain HTTP, logging in with `creds`) into a fresh OCI layout.
/// Returns skopeo's output and the digest of the manifest it wrote.
pub(crate) fn pull(creds: &str, reference: &str) -> (Output, Option<String>) {
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", out.path().display());
    let output = skopeo(&[
        "copy",
        "--src-creds",
        creds,
        "--src-tls-verify=false",
        reference,
        &target,
    ]);
    let digest = std::fs::read(out.path().join("index.json"))
        .ok()
        .and_then(|index| serde_json::from_slice::<serde_json::Value>(&index).ok())
        .and_then(|index| index["manifests"][0]["digest"].as_str().map(str::to_owned));
    (output, digest)
}

/// Asserts that a command succeeded, showing its output if not.
pub(crate) fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "command failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `sha256:<hex>` of some bytes.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Writes an OCI image layout with two layers made from local files; returns the manifest
/// digest.
pub(crate) fn write_image(dir: &Path) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
        (d, bytes.len())
    };
    let mut layers = Vec::new();
    for (i, content) in ["first layer\n", "second layer, a bit longer\n"]
        .iter()
        .enumerate()
    {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join(format!("file{i}.txt")), content).unwrap();
        let tar = src.path().join("layer.tar");
        let status = Command::new("tar")
            .args([
                "-cf",
                tar.to_str().unwrap(),
                "-C",
                src.path().to_str().unwrap(),
            ])
            .arg(format!("file{i}.txt"))
            .status()
            .unwrap();
        assert!(status.success());
        let tar = std::fs::read(tar).unwrap();
        let diff_id = digest(&tar);
        let gzip = Command::new("gzip")
            .args(["-n", "-c"])
            .arg(src.path().join("layer.tar"))
            .output()
            .unwrap();
        assert!(gzip.status.success());
        let (d, size) = put(&gzip.stdout);
        layers.push((d, size, diff_id));
    }
    let diff_ids: Vec<&str> = layers.iter().map(|(_, _, id)| id.as_str()).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers.iter().map(|(d, s, _)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s,
        })).collect::<Vec<_>>(),
    });
    let manifest = manifest.to_string();
    let (manifest_digest, manifest_size) = put(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_digest
}

/// The peak resident set size of a process, in KiB (`VmHWM`).
pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
