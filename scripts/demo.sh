#!/usr/bin/env bash
# Starts an embedded farm (coordinator + 2 local agents), renders the bundled
# example into an HLS ladder, prints where it is, and stops the farm.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/.build/debug}
data=${FARM_DEMO_DATA:-$here/farm-data/demo}
port=${FARM_DEMO_PORT:-8080}
zmq_port=${FARM_DEMO_ZMQ_PORT:-5555}
quality=${FARM_DEMO_QUALITY:-high}

mkdir -p "$data"
"$bin/farm" up --agents 2 --data-dir "$data" --http "127.0.0.1:$port" --zmq "tcp://127.0.0.1:$zmq_port" \
  --python "$here/.venv/bin/python" >"$data/farm.log" 2>&1 &
farm_pid=$!
trap 'kill -TERM $farm_pid 2>/dev/null; wait $farm_pid 2>/dev/null || true' EXIT

# Ready once the CLI is let in: `farm up` saves the admin's API key in the CLI's configuration.
for _ in $(seq 1 300); do
  "$bin/farm" whoami --coordinator "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  kill -0 $farm_pid 2>/dev/null || { cat "$data/farm.log"; exit 1; }
  sleep 0.2
done

start=$(date +%s.%N)
"$bin/farm" submit "$here/examples/lesson.py" --quality "$quality" --wait --coordinator "http://127.0.0.1:$port"
end=$(date +%s.%N)
printf 'rendered examples/lesson.py at %s quality in %.1f s (farm log: %s)\n' "$quality" "$(echo "$end - $start" | bc)" "$data/farm.log"
echo "(the web page is served while a farm runs on this folder: farm up --data-dir $data --http 127.0.0.1:$port;"
echo " sign in with the admin's key in $data/coordinator/keys/admin.key)"
