#!/usr/bin/env bash
# `metricore serve` under load: wrk -c 64 -t 2 on /metrics of a shared registry of
# 10,000 series (9,000 counters, 1,000 histograms) while two other processes record
# into it. Prints wrk's requests/s, p99 latency and non-2xx count, and the recorders'
# rates alone and under the load: one JSON record a line on standard output, as the
# other benches do (benches/src/record.rs), and wrk's report and a summary for people
# on standard error. Loopback only; every process stops by itself.
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

cat "$dir/wrk.txt" >&2
bytes=$(curl -s "$url" | wc -c)
series=$(curl -s "$url" | awk '$1 == "metricore_series" {print $2}')
rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.txt")
# wrk's `99%  92.70ms` in nanoseconds.
p99=$(awk '$1 == "99%" {
  v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u)
  print v * (u == "us" ? 1e3 : u == "ms" ? 1e6 : u == "s" ? 1e9 : u == "m" ? 6e10 : 1)
}' "$dir/wrk.txt")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$dir/wrk.txt")
# `Socket errors: connect 0, read 3, write 0, timeout 5`, summed.
errors=$(awk '/Socket errors/ {for (i = 4; i <= NF; i += 2) s += $i} END {print s + 0}' "$dir/wrk.txt")
sum() { awk '{s += $1} END {printf "%.0f", s}'; }
emit() { # work, value (null if none), unit, params (JSON members, may be empty)
  local params=""
  [ -z "${4:-}" ] || params=",\"params\":{$4}"
  printf '{"suite":"http","work":"%s","subject":"metricore serve","value":%s,"unit":"%s"%s}\n' \
    "$1" "${2:-null}" "$3" "$params"
}
load="wrk -c 64 -t 2 -d ${seconds}s"
emit "registry series" "$series" series
emit "bytes per scrape" "$bytes" bytes
emit "$load: requests/s" "$rps" requests/s "\"connections\":64,\"threads\":2,\"seconds\":$seconds"
emit "p99 latency" "$p99" ns
emit "non-2xx responses" "${non2xx:-0}" responses
emit "socket errors" "$errors" errors
emit "2 recorders, recordings/s, alone" "$(echo "$alone" | sum)" recordings/s
emit "2 recorders, recordings/s, under wrk" "$(echo "$loaded" | sum)" recordings/s
emit "2 recorders, recordings/CPU-second, alone" "$(echo "$alone_cpu" | sum)" recordings/CPU-second
emit "2 recorders, recordings/CPU-second, under wrk" "$(echo "$loaded_cpu" | sum)" recordings/CPU-second
echo "machine: $(nproc) CPUs, shared by the two recorders, metricore serve and wrk" >&2
