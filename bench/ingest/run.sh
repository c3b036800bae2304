#!/bin/sh
# Builds the ingest benchmark in release mode (in its own scratch folder) and runs it: SQLite always, PostgreSQL too
# when a URL is given, e.g. bench/ingest/run.sh --postgres postgres://postgres@127.0.0.1:5432/postgres
# Other options: --messages N, --concurrency 1,8,32, --batch 100, --no-sqlite, --no-concurrent-consumer.
set -e
cd "$(dirname "$0")/../.."
SCRATCH=${SCRATCH:-.build-ingest}
swift build -c release --product parley-ingest-bench --scratch-path "$SCRATCH"
exec "$SCRATCH/release/parley-ingest-bench" "$@"
