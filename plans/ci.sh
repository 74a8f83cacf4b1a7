#!/bin/sh
# The commands a CI pipeline runs for a reassignment plan kept in git (see
# plans/README.md; plans/pipeline.yml calls this script). Exit codes drive
# the pipeline; every command is kafka-migrate's own.
#
#   ci.sh pr PLAN      on a pull request that adds PLAN: check it against
#                      the live cluster, strictly, and write the Markdown
#                      report for the PR comment ($REPORT, default report.md)
#   ci.sh merge PLAN   on merge: apply it (waiting to the end), verify it,
#                      and roll back with PLAN's rollback file if it failed
#
# Environment: KAFKA_MIGRATE_BOOTSTRAP (the cluster), THROTTLE (default
# 50MB/s), KAFKA_MIGRATE (the binary, default kafka-migrate on PATH).
set -u
km=${KAFKA_MIGRATE:-kafka-migrate}
throttle=${THROTTLE:-50MB/s}
stage=${1:?usage: ci.sh pr|merge PLAN}
plan=${2:?usage: ci.sh pr|merge PLAN}
rollback_file="${plan%.json}.rollback.json"

case $stage in
pr)
    snapshot=$(mktemp "${TMPDIR:-/tmp}/cluster.XXXXXX")
    trap 'rm -f "$snapshot"' EXIT
    "$km" describe -o "$snapshot" >/dev/null || exit 3
    # 0 valid, 1 valid but the cluster has offline partitions, 2 invalid.
    "$km" check "$plan" --state "$snapshot" --strict --throttle "$throttle" \
        --output markdown >"${REPORT:-report.md}"
    ;;
merge)
    "$km" apply "$plan" --throttle "$throttle" --no-progress
    rc=$?
    case $rc in
    0) ;;
    # Refused before anything changed (stale plan, moves in flight, a
    # plan the cluster rejects): nothing to roll back.
    2) exit 2 ;;
    # Stopped or failed part-way: put back what moved.
    *)
        "$km" rollback "$rollback_file" --throttle "$throttle" --no-progress
        exit 3
        ;;
    esac
    # 0 done, 1 still in progress, 3 diverged or failed.
    "$km" verify "$plan"
    rc=$?
    if [ "$rc" -eq 3 ]; then
        "$km" rollback "$rollback_file" --throttle "$throttle" --no-progress
    fi
    exit "$rc"
    ;;
*)
    echo "usage: ci.sh pr|merge PLAN" >&2
    exit 2
    ;;
esac
