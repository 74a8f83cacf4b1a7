#!/usr/bin/env bash
# Fuzzes the mini-broker request decoder with cargo-fuzz (libFuzzer).
# A benchmark-style job, not part of CI. Usage: fuzz/run.sh [SECONDS] [extra libFuzzer args]
# Needs a nightly toolchain; installs cargo-fuzz if missing. Findings land in
# fuzz/artifacts/decode_request/; reproduce one with
#   cargo +nightly fuzz run decode_request fuzz/artifacts/decode_request/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/decode_request
# Seed: an ApiVersions v3 and a Metadata v12 request (header + body, no size prefix).
printf '\x00\x12\x00\x03\x00\x00\x00\x01\x00\x04test\x00\x04kcat\x061.7.1\x00' > fuzz/corpus/decode_request/api_versions_v3
printf '\x00\x03\x00\x0c\x00\x00\x00\x02\x00\x04test\x00\x00\x01\x00\x00\x00' > fuzz/corpus/decode_request/metadata_v12
# -rss_limit_mb catches unbounded allocations as findings.
exec cargo +nightly fuzz run decode_request fuzz/corpus/decode_request -- \
  -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 "$@"
