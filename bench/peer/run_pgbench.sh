#!/usr/bin/env bash
# pgbench with the SQL Kopa sends (bench/peer/pg/*.sql) against Kopa's embedded PostgreSQL,
# through the peer harness's pg-limit.sh (its copy with PG_SQL_DIR and cases g h i, see
# bench/peer/harness.patch). Kopa (kopa_serve.sh) must be running: it owns the cluster.
#   bench/peer/run_pgbench.sh HARNESS_DIR PARAMS_DIR [pg-limit.sh options, e.g. --time 15]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=$1; PARAMS=$2; shift 2
DIR=${KOPA_BENCH_DIR:-/tmp/kopa14}
export PGHOST=127.0.0.1 PGPORT=$(sed -n 4p "$DIR/data/pgdata/postmaster.pid") PGDATABASE=kopa PGUSER=kopa
export PGPASSWORD=$(cat "$DIR/data/pgpass") DB_PIDFILE=$DIR/data/pgdata/postmaster.pid PG_SQL_DIR=$HERE/pg
# the harness's parameter tables first (pg_limit.py recreates them identically), then ours
python3 -c "import json,sys; sys.path.insert(0, '$HARNESS/lib'); from pg_limit import params_sql; \
print(params_sql(json.load(open('$PARAMS/bench_params.json', encoding='utf-8'))))" \
  | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -f "$HERE/pg/setup.sql"
exec "$HARNESS/pg-limit.sh" --data "$PARAMS" --mode prepared --cases a,b,c,d,e,g,h,i "$@"
