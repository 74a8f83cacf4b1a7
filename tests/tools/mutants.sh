#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the pure modules whose mistakes no
# type catches: sizes and rates (src/units.rs), the formats and their
# validation (src/model/), and the figures plan and check report
# (src/analysis.rs). Not run in CI: a full run takes hours on two cores.
#
# usage: tests/tools/mutants.sh [FILE_GLOB...] [-- CARGO_MUTANTS_ARGS...]
#   tests/tools/mutants.sh                        # the three, in one run
#   tests/tools/mutants.sh src/units.rs           # one file (or a glob)
#   tests/tools/mutants.sh src/units.rs -- -F parse_size   # some mutants
#
# Each mutant is built once and judged by the integration tests that
# exercise these modules (analysis, formats, units, cli, commands,
# plans: ~6 s);
# the property tests and referees are left out, as they take minutes.
# Builds go to target/mutants/target without debug info (kept between
# runs, so dependencies build once), reports to
# target/mutants/NAME/mutants.out (caught.txt, missed.txt, unviable.txt,
# timeout.txt), NAME from the first file ("all" for the default three).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "== installing cargo-mutants (crates.io)"
  cargo install cargo-mutants --locked
fi

files=()
while (($#)) && [[ $1 != -- ]]; do
  files+=("$1")
  shift
done
[[ ${1:-} == -- ]] && shift
name=all
if ((${#files[@]} == 0)); then
  files=(src/units.rs 'src/model/*.rs' src/analysis.rs)
else
  name=$(basename "${files[0]%%/\*.rs}" .rs)
fi
file_args=()
for f in "${files[@]}"; do
  file_args+=(--file "$f")
done

mkdir -p "target/mutants/$name"
export CARGO_TARGET_DIR="$PWD/target/mutants/target"
# Without debug info a mutant links in about half the time.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
# One job: the machine's cores go to each build. The minimum test timeout
# keeps a slow build host from calling a loaded test run a hang.
exec cargo mutants \
  "${file_args[@]}" \
  --jobs 1 \
  --minimum-test-timeout 120 \
  --output "target/mutants/$name" \
  --no-shuffle \
  "$@" \
  -- --test it -- analysis:: formats:: units:: cli:: commands:: plans:: inflight::
