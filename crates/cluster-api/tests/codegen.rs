//! The generated gRPC code is checked in (`src/gen/`), so that building Starling needs no
//! protobuf compiler. This test regenerates it from `proto/` with the vendored `protoc` and
//! fails when the checked-in file is stale.
//!
//! After changing a `.proto` file (or the code generator's version in Cargo.lock), run
//! `STARLING_BLESS_CODEGEN=1 cargo test -p cluster-api --test codegen` to rewrite the file,
//! and review the diff.

use std::path::{Path, PathBuf};

/// The package generated into `src/gen/`, one file per package.
const PACKAGE: &str = "starling.v1";

#[test]
fn generated_code_matches_the_proto_files() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_root = manifest.join("../../proto");
    let protos = [proto_root.join("starling/v1/router.proto")];
    let checked_in = manifest.join(format!("src/gen/{PACKAGE}.rs"));

    let out = tempfile::tempdir().expect("create a temporary directory");
    generate(&protos, &proto_root, out.path());
    let fresh_path = out.path().join(format!("{PACKAGE}.rs"));
    let fresh = std::fs::read_to_string(&fresh_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", fresh_path.display()));

    if std::env::var_os("STARLING_BLESS_CODEGEN").is_some_and(|v| v == "1") {
        std::fs::write(&checked_in, &fresh)
            .unwrap_or_else(|e| panic!("write {}: {e}", checked_in.display()));
        return;
    }
    let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
    assert!(
        current == fresh,
        "{} is out of date with proto/ ({}).\n\
         Regenerate it with `STARLING_BLESS_CODEGEN=1 cargo test -p cluster-api --test codegen` \
         and review the diff.",
        checked_in.display(),
        first_difference(&current, &fresh),
    );
}

/// Runs the code generator with the settings the checked-in code was made with.
fn generate(protos: &[PathBuf], include: &Path, out_dir: &Path) {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("the vendored protoc");
    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc)
        // Stanza XML is handed from the gRPC message to the bus and to every session's
        // writer; `Bytes` makes each of those hand-offs a reference-count increment.
        .bytes(["."]);
    tonic_prost_build::configure()
        .out_dir(out_dir)
        .emit_rerun_if_changed(false)
        .compile_with_config(config, protos, &[include.to_path_buf()])
        .expect("generate code from proto/");
}

/// Where two texts first differ, for the failure message.
fn first_difference(current: &str, fresh: &str) -> String {
    let mut current_lines = current.lines();
    let mut fresh_lines = fresh.lines();
    for line in 1.. {
        match (current_lines.next(), fresh_lines.next()) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => break,
            (a, b) => {
                return format!(
                    "first difference at line {line}: checked in {a:?}, generated {b:?}"
                );
            }
        }
    }
    "they differ only in line endings".to_owned()
}
