#!/usr/bin/env bash
# Start / stop the Kopa under test for the peer harness (issue 14).
#   bench/peer/kopa_serve.sh start      # kopa serve on $KOPA_BENCH_DIR/data, pid in kopa.pid
#   bench/peer/kopa_serve.sh key        # creates an admin key into $KOPA_BENCH_DIR/admin_key
#   bench/peer/kopa_serve.sh stop       # stops kopa (and with it its embedded PostgreSQL)
# KOPA_RESPONSE_STORE_MB=0 turns the response store off ("unique" column); default 64.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${KOPA_BENCH_DIR:-/tmp/kopa14}
BIN=${KOPA_BIN:-$REPO/target/release/kopa}
PORT=${KOPA_PORT:-18080}
mkdir -p "$DIR/data"; chmod 755 "$DIR" "$DIR/data"
kenv() {
  env -u DATABASE_URL $(env | grep -o '^KOPA_[A-Z_]*' | grep -v -e KOPA_BENCH_DIR -e KOPA_BIN -e KOPA_PORT \
      -e KOPA_RESPONSE_STORE_MB | sed 's/^/-u /') \
    KOPA_DATA_DIR="$DIR/data" KOPA_BIND="127.0.0.1:$PORT" KOPA_LOG=warn KOPA_NO_SEED=1 \
    KOPA_RATE_LIMIT_KEY=0 KOPA_RATE_LIMIT_ANONYMOUS=0 \
    KOPA_RESPONSE_STORE_MB="${KOPA_RESPONSE_STORE_MB:-64}" "$@"
}
case ${1:-} in
  start)
    cd "$REPO"
    # the pid file must name kopa itself (RSS is read from it): the shell writes its own pid
    # and then becomes kopa
    kenv setsid nohup bash -c 'echo $$ >"$0"; exec "$1" serve' "$DIR/kopa.pid" "$BIN" \
      >>"$DIR/kopa.log" 2>&1 < /dev/null &
    sleep 0.5
    for i in $(seq 1 600); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/projects?limit=1" 2>/dev/null; then
        echo "kopa up on :$PORT pid $(cat "$DIR/kopa.pid") store=${KOPA_RESPONSE_STORE_MB:-64}MB"; exit 0; fi
      kill -0 "$(cat "$DIR/kopa.pid")" 2>/dev/null || { tail -20 "$DIR/kopa.log"; exit 1; }
      sleep 0.5
    done
    echo "kopa did not come up"; exit 1;;
  key)
    cd "$REPO"
    kenv "$BIN" keys create --scope admin --name bench14 | tail -1 >"$DIR/admin_key"
    echo "key in $DIR/admin_key";;
  stop)
    pid=$(cat "$DIR/kopa.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for i in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    echo "kopa stopped";;
  *) sed -n 2,6p "$0"; exit 2;;
esac
