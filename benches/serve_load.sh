#!/usr/bin/env bash
# `metricore serve` under load: wrk -c 64 -t 2 on /metrics of a shared registry of
# 10,000 series (9,000 counters, 1,000 histograms) while two other processes record
# into it. Prints wrk's requests/s, p99 latency and non-2xx count, and the recorders'
# rates alone and under the load. Loopback only; every process stops by itself.
#
#   benches/serve_load.sh [SECONDS]    (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}

if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk
fi
cargo build --release -q -p metricore --features cli --bin metricore --example recorder
bin=target/release

dir=$(mktemp -d)
file=$dir/load.metricore
serve_pid=""
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin/examples/recorder" "$file" 0 >/dev/null
"$bin/metricore" serve --registry "$file" --listen 127.0.0.1:0 >"$dir/serve.log" 2>&1 &
serve_pid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[^ ]*/metrics' "$dir/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "metricore serve did not start:"; cat "$dir/serve.log"; exit 1; }

# Runs two recorders for $seconds beside the command given; leaves their recordings
# per second in $dir/rec.1 and $dir/rec.2.
record() {
  "$bin/examples/recorder" "$file" "$seconds" >"$dir/rec.1" &
  local a=$!
  "$bin/examples/recorder" "$file" "$seconds" >"$dir/rec.2" &
  local b=$!
  "$@"
  wait "$a" "$b"
}
# Field $1 of the recorders' lines: recordings per second (wall) or, with 3, per
# second on a CPU.
rates() { cat "$dir/rec.1" "$dir/rec.2" | awk -v f="$1" '{print $f}'; }

record true
alone=$(rates 1) alone_cpu=$(rates 3)
record wrk -c 64 -t 2 -d "${seconds}s" --latency "$url" >"$dir/wrk.txt"
loaded=$(rates 1) loaded_cpu=$(rates 3)

cat "$dir/wrk.txt"
bytes=$(curl -s "$url" | wc -c)
series=$(curl -s "$url" | awk '$1 == "metricore_series" {print $2}')
rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$dir/wrk.txt")
errors=$(awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print}' "$dir/wrk.txt")
sum() { awk '{s += $1} END {printf "%.0f", s}'; }
slower() {
  awk -v a="$1" -v b="$2" 'BEGIN { d = 100 * (1 - b / a); if (d >= 0) printf "%.0f%% slower", d; else printf "%.0f%% faster", -d }'
}
report() { # label, rates alone, rates loaded
  local a b
  a=$(echo "$2" | sum) b=$(echo "$3" | sum)
  echo "$1: alone $(echo $2 | tr ' ' '+') = $a; under wrk $(echo $3 | tr ' ' '+') = $b ($(slower "$a" "$b"))"
}

echo
echo "registry: $series series, $bytes bytes per scrape (Prometheus text, no gzip)"
echo "wrk -c 64 -t 2 -d ${seconds}s: $rps requests/s, p99 $p99, non-2xx responses: ${non2xx:-0}, socket errors: ${errors:-none}"
report "recorders, recordings/s        " "$alone" "$loaded"
report "recorders, recordings/CPU-second" "$alone_cpu" "$loaded_cpu"
echo "machine: $(nproc) CPUs, shared by the two recorders, metricore serve and wrk"
