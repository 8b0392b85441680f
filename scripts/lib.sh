# Shared by the scripts: checks and installs what building Starling needs on Debian.
# Sourced, not run.

# Installs Debian packages that are missing (as root, or through sudo when available).
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || { echo "missing packages: ${missing[*]} (install them)" >&2; return 1; }
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing ${missing[*]}" >&2
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Checks for a Rust toolchain new enough for the workspace (rust-version in Cargo.toml).
ensure_rust() {
    local need
    need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml")
    if ! command -v cargo >/dev/null; then
        echo "Starling needs Rust $need or newer: install it with rustup (https://rustup.rs)" >&2
        return 1
    fi
    local have
    have=$(rustc --version | awk '{print $2}')
    if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
        echo "Starling needs Rust $need or newer, found $have: run 'rustup update'" >&2
        return 1
    fi
}

ensure_build_tools() {
    ensure_rust
    # ring and the bundled SQLite compile C.
    command -v cc >/dev/null || ensure_debian_packages build-essential
}

# The workspace's target directory, where cargo puts the binaries (CARGO_TARGET_DIR or a
# cargo configuration may move it), read from `cargo metadata` without a JSON tool: a fresh
# Debian machine need not have one.
target_dir() {
    local root
    root=$(dirname "${BASH_SOURCE[0]}")/..
    (cd "$root" && cargo metadata --format-version 1 --no-deps) |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# loadtest/compare on the small load that checks the side-by-side scripts rather than
# measuring (200 users, 6 contacts, 200/s for 5 s) on the suite's debug binaries, failing on
# any failed run; VAR=value arguments add to or override its settings. .ci/run and
# scripts/fresh-debian run it.
check_compare() {
    env PREBUILT=1 COMPARE_PROFILE=debug COMPARE_STRICT=1 COMPARE_USERS=200 \
        COMPARE_CONTACTS=6 COMPARE_RATE=200 COMPARE_DURATION=5 COMPARE_SETTLE=30 \
        COMPARE_BENCH_DIR=/tmp/starling-compare-ci "$@" \
        "$(dirname "${BASH_SOURCE[0]}")/../loadtest/compare"
}
