#!/usr/bin/env bash
# Issue 14's benchmark sitting, everything one after the other on a quiet machine:
#   1. Kopa, response store on  ("repeated")  cases a b c d e g h i
#   2. Kopa, response store off ("unique")    cases a b c d e g h i
#   3. pgbench with Kopa's SQL                cases a b c d e g h i
#   4. Kopa batch write (f), 20 x 1,000 values
#   5. Directus 11.3.5 as installed            cases a b c d e i, then f
#   6. Directus with CACHE_ENABLED=true (memory store)  cases a b c d e i
#   7. soak: Kopa (store on), mixed reads + batch writes, SOAK_SECONDS; stats vs direct SQL
# Usage: bench/peer/sitting.sh HARNESS_DIR OUT_DIR   (Kopa loaded by load_peer_dataset.py,
#        the Directus peer set up by the harness; both may be running or not)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
H=$1; OUT=$2; mkdir -p "$OUT"
export KOPA_BENCH_DIR=${KOPA_BENCH_DIR:-/tmp/kopa14}
PARAMS=$KOPA_BENCH_DIR/params
DUR=${DURATION:-15}
SOAK_SECONDS=${SOAK_SECONDS:-600}
# BUSY_FILE: a file telling others the machine is taken; removed when the sitting ends, and the
# soak is cut short so that the whole sitting stays within BUSY_LIMIT seconds of its creation
BUSY_FILE=${BUSY_FILE:-}
BUSY_LIMIT=${BUSY_LIMIT:-2640}
[ -n "$BUSY_FILE" ] && trap 'rm -f "$BUSY_FILE"' EXIT INT TERM
BUSY_SINCE=$(stat -c %Y "${BUSY_FILE:-/dev/null}" 2>/dev/null || date +%s)
[ -n "$BUSY_FILE" ] || BUSY_SINCE=$(date +%s)
step() { echo "== $(date -u +%H:%M:%S) $* | load $(cut -d' ' -f1-3 /proc/loadavg)"; }
bench() { (cd "$H" && ./bench.sh "$@" --duration "$DUR" --out-dir "$OUT"); }

step "start; stopping both servers"
"$H/peer-directus/stop.sh" >/dev/null 2>&1
"$HERE/kopa_serve.sh" stop >/dev/null

step "1. kopa, response store on"
KOPA_RESPONSE_STORE_MB=64 "$HERE/kopa_serve.sh" start
NAME=kopa-repeated bench "$HERE/kopa.env" --data "$PARAMS" --cases a,b,c,d,e,g,h,i
"$HERE/kopa_serve.sh" stop

step "2. kopa, response store off"
KOPA_RESPONSE_STORE_MB=0 "$HERE/kopa_serve.sh" start
NAME=kopa-unique bench "$HERE/kopa.env" --data "$PARAMS" --cases a,b,c,d,e,g,h,i

step "3. pgbench, Kopa's SQL"
"$HERE/run_pgbench.sh" "$H" "$PARAMS" --time "$DUR" --name kopa-pgbench --out-dir "$OUT"

step "4. kopa batch write"
NAME=kopa-write bench "$HERE/kopa.env" --data "$PARAMS" --cases f
"$HERE/kopa_serve.sh" stop

step "5. directus, default"
"$H/peer-directus/start.sh"
NAME=directus bench "$H/targets/directus.env" --data "$H/data/scale1" --cases a,b,c,d,e,i,f
"$H/peer-directus/stop.sh"

step "6. directus, CACHE_ENABLED=true CACHE_STORE=memory"
ENVF=/tmp/peer/directus/.env
cp "$ENVF" "$ENVF.nocache"
sed -i 's/^CACHE_ENABLED=false/CACHE_ENABLED=true\nCACHE_STORE=memory/' "$ENVF"
"$H/peer-directus/start.sh"
# (the harness's directus.env sets NAME=directus itself: write elsewhere, then rename;
#  in the 2026-12-01 sitting this renaming was done by hand afterwards)
mkdir -p "$OUT/.cache-run"
(cd "$H" && ./bench.sh "$H/targets/directus.env" --data "$H/data/scale1" --cases a,b,c,d,e,i \
  --duration "$DUR" --out-dir "$OUT/.cache-run")
for f in "$OUT"/.cache-run/directus-*; do mv "$f" "$OUT/directus-cache-${f##*/directus-}"; done
rmdir "$OUT/.cache-run"
"$H/peer-directus/stop.sh"
cp "$ENVF.nocache" "$ENVF"

left=$(( BUSY_SINCE + BUSY_LIMIT - $(date +%s) - 60 ))
[ "$left" -lt "$SOAK_SECONDS" ] && SOAK_SECONDS=$left
step "7. soak, kopa store on, $SOAK_SECONDS s"
if [ "$SOAK_SECONDS" -ge 30 ]; then
  KOPA_RESPONSE_STORE_MB=64 "$HERE/kopa_serve.sh" start
  python3 "$HERE/soak.py" --params "$PARAMS" --seconds "$SOAK_SECONDS" --out "$OUT/soak.json"
  "$HERE/kopa_serve.sh" stop
else
  echo "no time left for the soak"
fi
step "done"
