#!/usr/bin/env bash
# THE test command: what CI runs (through .ci/run) and what to run before pushing.
#
#   scripts/test.sh
#
# 1. installs what the tests need when it is missing: redis-cli and redis-benchmark
#    (Debian's redis-tools), redis-server, curl, nutcracker and memcached (`apt-get update` only if the install needs it; sudo
#    only when not root);
# 2. cargo fmt --check, cargo clippy -D warnings (every target), then every test of the
#    workspace: with cargo-nextest when installed (one process per test, both cores busy,
#    hung tests killed; see .config/nextest.toml), else cargo test. Debug builds: a cold
#    build plus the whole suite stays well inside CI's budget on two cores, where release
#    (thin LTO) would double the build time for no test benefit.
# 3. the redis-py suite (tests/py, see its conftest.py) against the debug rcache binary, in
#    a venv at .venv-test/ made (python3 -m venv; Debian's python3-venv installed if that
#    fails) and filled from tests/py/requirements.txt only when missing or changed.
#
# Environment:
#   RCACHE_ALLOW_MISSING_TOOLS=1   tests that need those tools skip (loudly)
#                                  instead of failing; never set in CI
#   RCACHE_TEST_RUNNER=cargo       use cargo test even when nextest is installed
#   RCACHE_SKIP_PY=1               leave out the redis-py suite (step 3)
#   CARGO_TARGET_DIR               honoured as usual
# Exits non-zero on the first failing step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        # -n: never wait for a password (CI has no stdin).
        sudo -n "$@"
    fi
}

# The Debian packages whose commands the tests drive: redis-cli/redis-benchmark
# (redis-tools), curl (the HTTP door's script test) and redis-server (`rcache bench
# --compare` against a real Redis, crates/rcache/tests/bench.rs).
NEEDED_TOOLS=("redis-cli:redis-tools" "redis-benchmark:redis-tools" "curl:curl" "redis-server:redis-server" "nutcracker:nutcracker" "memcached:memcached")

install_tools() {
    local missing=() pkgs=() t
    for t in "${NEEDED_TOOLS[@]}"; do
        command -v "${t%%:*}" >/dev/null 2>&1 || { missing+=("${t%%:*}"); pkgs+=("${t#*:}"); }
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${RCACHE_ALLOW_MISSING_TOOLS:-}" = "1" ]; then
        echo "${missing[*]} missing; RCACHE_ALLOW_MISSING_TOOLS=1: their tests will SKIP"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: ${missing[*]} missing and there is no apt-get to install them." >&2
        echo "Install Debian's ${pkgs[*]} (or equivalents) by hand, or set RCACHE_ALLOW_MISSING_TOOLS=1 to skip those tests." >&2
        return 1
    fi
    mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
    step "installing ${pkgs[*]} (for ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}" </dev/null; then
        echo "apt-get install failed; refreshing the package lists and retrying"
        as_root apt-get update -qq </dev/null
        as_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}" </dev/null
    fi
    for t in "${missing[@]}"; do command -v "$t" >/dev/null || return 1; done
}

# The redis-py suite's venv: created when missing, its packages installed when missing or
# when tests/py/requirements.txt changed (a stamp file keeps the requirements installed).
venv=.venv-test
setup_python_venv() {
    local req=tests/py/requirements.txt stamp=$venv/.requirements
    if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then
        return 0
    fi
    step "preparing the redis-py venv ($venv)"
    if [ ! -x "$venv/bin/python" ]; then
        if ! { command -v python3 >/dev/null 2>&1 && python3 -m venv "$venv"; }; then
            rm -rf "$venv"
            echo "no python3 with a working venv module; installing Debian's python3-venv"
            export DEBIAN_FRONTEND=noninteractive
            if ! as_root apt-get install -y -qq --no-install-recommends python3 python3-venv </dev/null; then
                as_root apt-get update -qq </dev/null
                as_root apt-get install -y -qq --no-install-recommends python3 python3-venv </dev/null
            fi
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}

install_tools

step "cargo fmt --check"
cargo fmt --all -- --check
# The fuzz crate is its own workspace; format-check its sources directly.
rustfmt --edition 2021 --check fuzz/fuzz_targets/*.rs

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

runner="${RCACHE_TEST_RUNNER:-}"
if [ -z "$runner" ]; then
    if cargo nextest --version >/dev/null 2>&1; then runner=nextest; else runner=cargo; fi
fi

if [ "$runner" = "nextest" ]; then
    # nextest does not run doctests; run them first so nextest's summary closes the log.
    step "cargo test --doc"
    cargo test --workspace --locked --doc
    step "cargo nextest run --workspace"
    cargo nextest run --workspace --locked --profile ci
else
    step "cargo test --workspace"
    cargo test --workspace --locked --no-fail-fast
fi

if [ "${RCACHE_SKIP_PY:-}" = "1" ]; then
    echo "RCACHE_SKIP_PY=1: the redis-py suite is left out"
else
    setup_python_venv
    step "redis-py suite (tests/py)"
    # The binary the suite starts; a no-op when the tests above built it already.
    cargo build -p rcache --locked --quiet
    # A backstop only: every wait in the suite is bounded, and it runs in seconds.
    timeout 600 "$venv/bin/python" -m pytest tests/py -q
fi

step "all checks passed"
