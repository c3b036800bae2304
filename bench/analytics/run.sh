#!/bin/sh
# Builds the analytics benchmark in release mode and runs it (SQLite by default; pass a postgres:// URL for PostgreSQL).
# BENCH_USERS, BENCH_DAYS and BENCH_DAILY_SHARE change the data set (defaults 1000000, 90, 0.3).
set -e
cd "$(dirname "$0")/../.."
swift build -c release --product parley-analytics-bench
exec .build/release/parley-analytics-bench "$@"
