#!/usr/bin/env bash
# A jepsen-like run with every nemesis kind, and every bench experiment in --quick mode
# (etcd too, which needs the etcd-server package: see .ci/run), against the debug binaries.
# Part of scripts/test.sh. Fails on an anomaly, a harness error, a missing table or plot,
# or a NaN in a table.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/debug
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cargo build --quiet --locked --bins

# Fails unless the experiment NAME wrote NAME.md and NAME.png into DIR.
bench_written() {
  local dir=$1 name=$2
  for ext in md png; do
    [[ -s "$dir/$name.$ext" ]] || { echo "harness-test: $name.$ext missing" >&2; exit 1; }
  done
}

# Fails if NAME's table in DIR holds a NaN.
no_nan() {
  if grep -qiw nan "$1/$2.md"; then
    echo "harness-test: NaN in the $2 table" >&2
    exit 1
  fi
}

# Every nemesis kind, TLS and credentials on every link, stock low enough for 409s. Rounds
# hold every kind once, so 100 s at a 3 s interval meets all 13; the check below says so.
echo "== jepsen-like test (100 s, --nemesis all, TLS, low stock)"
if ! "$BIN/jepsen-like" test --time 100 --clients 5 --rate 50 --interval 3 --nemesis all \
  --stock 10 --security tls --bin-dir "$BIN" --out "$OUT/test"; then
  echo "harness-test: the jepsen-like run failed; its report:" >&2
  cat "$OUT/test/report.md" >&2 || true
  grep '"error"' "$OUT/test/history.jsonl" >&2 || true
  for log in "$OUT"/test/cluster-logs/*.log; do
    echo "--- $log (last 30 lines)" >&2
    tail -n 30 "$log" >&2 || true
  done
  exit 1
fi
for file in history.jsonl final.json results.json report.md latency.png rate.png; do
  [[ -s "$OUT/test/$file" ]] || { echo "harness-test: $file missing" >&2; exit 1; }
done
# serde_json writes keys sorted, so "fault" comes right before "phase".
for kind in kill kill-leader pause partition kill-catalog kill-gateway slow flaky membership \
  snapshot clock disk combined; do
  grep -q "\"fault\":\"$kind\",\"phase\":\"start\"" "$OUT/test/history.jsonl" ||
    { echo "harness-test: no $kind fault in the run" >&2; exit 1; }
done
"$BIN/jepsen-like" check "$OUT/test" >/dev/null

# A short soak: two seeds, partitions (the gateway's link to the catalog among the shapes)
# and membership changes (fresh nodes on the mesh's spare ports).
echo "== jepsen-like soak (2 runs of 20 s: partition, membership)"
"$BIN/jepsen-like" soak --runs 2 --time 20 --clients 5 --rate 50 --nemesis partition,membership \
  --bin-dir "$BIN" --out "$OUT/soak"
grep -q "^2 of 2 runs valid" "$OUT/soak/soak.md" ||
  { echo "harness-test: soak.md does not say 2 of 2 runs valid" >&2; exit 1; }
[[ -s "$OUT/soak/soak.png" ]] || { echo "harness-test: soak.png missing" >&2; exit 1; }

echo "== jepsen-like bench all --quick"
"$BIN/jepsen-like" bench all --quick --bin-dir "$BIN" --out "$OUT/bench"
for name in load cache crash scale overload tls breakdown; do
  bench_written "$OUT/bench" "$name"
done
if grep -qiw nan "$OUT"/bench/*.md; then
  echo "harness-test: NaN in a bench table" >&2
  exit 1
fi

echo "== jepsen-like bench growth --quick"
"$BIN/jepsen-like" bench growth --quick --bin-dir "$BIN" --out "$OUT/growth"
bench_written "$OUT/growth" growth
no_nan "$OUT/growth" growth

echo "== jepsen-like bench etcd --quick"
"$BIN/jepsen-like" bench etcd --quick --bin-dir "$BIN" --out "$OUT/etcd"
bench_written "$OUT/etcd" etcd
no_nan "$OUT/etcd" etcd
echo "harness-test: ok"
