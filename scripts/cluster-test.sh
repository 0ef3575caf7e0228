#!/usr/bin/env bash
# Runs scripts/cluster.sh for real in a temporary DATA_DIR on unused ports: up, status,
# buys through the gateway, kill the leader, restart it, pause and resume a follower, add
# and remove a node (the gateway follows without a restart), down.
# Part of scripts/test.sh. BUILD_PROFILE (default debug here) picks the binaries.
# Usage: scripts/cluster-test.sh [--secure | --tls]: the same steps on a secured cluster,
# where the internal routes also refuse a call without the cluster's credentials.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=""
case "${1:-}" in
  "") ;;
  --secure | --tls) MODE="$1" ;;
  *) echo "usage: $0 [--secure | --tls]" >&2; exit 2 ;;
esac

export BUILD_PROFILE="${BUILD_PROFILE:-debug}"
DATA_DIR="$(mktemp -d)"
export DATA_DIR
CLUSTER=scripts/cluster.sh

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Free ports away from the defaults, so a running cluster is not disturbed, and below the
# kernel's ephemeral range (32768 and up), so no outgoing connection takes one meanwhile.
pick_ports() {
  local base p ok
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 12000))
    ok=1
    for p in $base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 10)) $((base + 11)); do
      port_free "$p" || ok=0
    done
    if ((ok)); then
      export NODE_PORT_BASE=$base CATALOG_PORT=$((base + 10)) GATEWAY_PORT=$((base + 11))
      return 0
    fi
  done
  echo "no free ports found" >&2
  exit 1
}

fail() {
  echo "cluster-test: FAIL: $*" >&2
  for log in "$DATA_DIR"/logs/*.log; do
    echo "--- $log (last 20 lines)" >&2
    tail -n 20 "$log" >&2 || true
  done
  exit 1
}

cleanup() {
  "$CLUSTER" down >/dev/null 2>&1 || true
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

SECRETS="$DATA_DIR/secrets"
SCHEME=http
[[ "$MODE" == --tls ]] && SCHEME=https
GW() { echo "$SCHEME://127.0.0.1:$GATEWAY_PORT"; }

# A shopper: no credential; over TLS it checks the gateway against the cluster's CA.
shopper() {
  if [[ "$MODE" == --tls ]]; then
    curl --cacert "$SECRETS/ca.pem" "$@"
  else
    curl "$@"
  fi
}

# An operator: the admin token (and over TLS the admin certificate), read from files.
operator() {
  local extra=()
  [[ -n "$MODE" ]] && extra+=(-H "@$SECRETS/admin.header")
  [[ "$MODE" == --tls ]] && extra+=(--cacert "$SECRETS/ca.pem" --cert "$SECRETS/admin.pem" --key "$SECRETS/admin-key.pem")
  curl "${extra[@]}" "$@"
}

buy() {
  local answer
  answer="$(shopper -sS --max-time 20 -X POST "$(GW)/orders" -H "Idempotency-Key: $1" \
    -d '{"name": "Tux", "quantity": 1}')" || fail "buy $1: no answer"
  sed -n 's/.*"order_number":\([0-9]*\).*/\1/p' <<<"$answer" | grep . || fail "buy $1: $answer"
}

# Polls a command until it succeeds, for at most $1 seconds.
eventually() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out waiting for: $*"
    sleep 0.2
  done
}

digests_equal() {
  local id first="" d
  for id in 1 2 3; do
    d="$(operator -fsS --max-time 2 "$SCHEME://127.0.0.1:$((NODE_PORT_BASE + id - 1))/cluster/digest")" || return 1
    d="$(sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p' <<<"$d")"
    [[ -n "$d" ]] || return 1
    [[ -z "$first" || "$d" == "$first" ]] || return 1
    first="$d"
  done
}

pick_ports
echo "== up $MODE (DATA_DIR=$DATA_DIR, gateway port $GATEWAY_PORT)"
# shellcheck disable=SC2086 # MODE is one flag or none
"$CLUSTER" up $MODE || fail "up"
"$CLUSTER" up >/dev/null || fail "a second up"
[[ "$(find "$DATA_DIR/pids" -name '*.pid' | wc -l)" == 5 ]] || fail "a second up started something twice"

echo "== status"
status="$("$CLUSTER" status)"
echo "$status"
[[ "$(grep -c ' up ' <<<"$status")" == 5 ]] || fail "status does not show five services up"
grep -q 'leader \*' <<<"$status" || fail "status marks no leader"

echo "== buys"
first="$(buy k1)"
second="$(buy k2)"
[[ "$second" == $((first + 1)) ]] || fail "order numbers not dense: $first then $second"
[[ "$(buy k1)" == "$first" ]] || fail "a retried key got another order"

echo "== kill the leader, buy again"
killed="$("$CLUSTER" kill leader | cut -d' ' -f1)"
third="$(buy k3)"
[[ "$third" == $((second + 1)) ]] || fail "order after failover not dense: $third"
shopper -fsS "$(GW)/orders/$first" | grep -q '"name":"Tux"' || fail "order $first lost after failover"

echo "== restart $killed, wait for it to catch up"
"$CLUSTER" restart "$killed" || fail "restart $killed"
eventually 30 digests_equal

if [[ -n "$MODE" ]]; then
  echo "== internal and admin routes refuse a caller without credentials"
  node1="$SCHEME://127.0.0.1:$NODE_PORT_BASE"
  code="$(shopper -s -o /dev/null -w '%{http_code}' --max-time 5 "$node1/cluster/digest" || true)"
  # Over mutual TLS the handshake itself fails (000); with tokens the node answers 401.
  [[ "$code" == 401 || ( "$MODE" == --tls && "$code" == 000 ) ]] || fail "digest without credentials answered $code"
  code="$(shopper -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$node1/cluster/membership" \
    -H 'content-type: application/json' -d '{"voters":[1]}' || true)"
  [[ "$code" == 401 || ( "$MODE" == --tls && "$code" == 000 ) ]] || fail "membership change without credentials answered $code"
  [[ "$("$CLUSTER" status | grep -c ' up ')" == 5 ]] || fail "an anonymous call changed the cluster"
fi

echo "== pause and resume a follower"
paused="$("$CLUSTER" pause follower | cut -d' ' -f1)"
"$CLUSTER" status | grep "^$paused " | grep -q paused || fail "$paused not shown paused"
buy k4 >/dev/null
"$CLUSTER" resume "$paused"
eventually 30 digests_equal

echo "== add node-4 and remove it again; the gateway follows without a restart"
gateway_pid="$(cat "$DATA_DIR/pids/gateway.pid")"
"$CLUSTER" add-node 4 || fail "add-node 4"
shopper -fsS "$(GW)/cluster" | grep -q '"id":4,' || fail "the gateway does not list node-4"
buy k5 >/dev/null
"$CLUSTER" remove-node 4 || fail "remove-node 4"
! shopper -fsS "$(GW)/cluster" | grep -q '"id":4,' || fail "the gateway still lists node-4"
buy k6 >/dev/null
[[ "$(cat "$DATA_DIR/pids/gateway.pid")" == "$gateway_pid" ]] || fail "the gateway was restarted"
eventually 30 digests_equal

echo "== down"
pids="$(cat "$DATA_DIR"/pids/*.pid)"
"$CLUSTER" down
for pid in $pids; do
  ! kill -0 "$pid" 2>/dev/null || fail "pid $pid still alive after down"
done
echo "cluster-test: ok"
