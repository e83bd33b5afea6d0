#!/usr/bin/env bash
# Benchmark 1: wall time of `farm submit --wait` with local agents against what a user would otherwise run on
# the same machine: `manim render -a` followed by ffmpeg producing the same 3-rendition HLS ladder with the same
# x264 settings (veryfast, CRF 23, closed GOP, IDR every 2 s, no B-frames, 6 s segments).
#   bench/farm-vs-manim.sh [script.py] [quality: low|medium|high] [runs] [agents]
# Prints each run and the ratio of medians (farm / baseline). FARM_BENCH_UP_ARGS adds options to `farm up`
# (for example `--sandbox off`, to measure what the sandbox costs).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
script=$(realpath "${1:-$here/examples/lesson.py}")
quality=${2:-high}
runs=${3:-3}
agents=${4:-2}
bin=${FARM_BIN_DIR:-$here/.build/debug}
venv=${FARM_VENV:-$here/.venv}
case $quality in low) flag=l; height=480; fps=15 ;; medium) flag=m; height=720; fps=30 ;; high) flag=h; height=1080; fps=60 ;; *) echo "quality: low|medium|high" >&2; exit 2 ;; esac
ladder=$(python3 -c "h=$height; print(' '.join(str(x) for x in ([h] + [r for r in (720,480,360,240) if r < h][:2])))")
work=$(mktemp -d /tmp/farm-bench-XXXX)
# The farm must be gone before the next run binds the same ports: stop it and wait for it (at most 30 s).
stop_farm() {
  [ -n "${farm_pid:-}" ] || return 0
  kill -TERM "$farm_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$farm_pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$farm_pid" 2>/dev/null || true
  wait "$farm_pid" 2>/dev/null || true
}
trap 'stop_farm; rm -rf "$work"' EXIT
scenes=$(python3 "$here/Sources/Coordinator/Discovery/discover_scenes.py" < "$script" | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin)["scenes"]))')

now() { date +%s.%N; }
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

baseline_once() {
  rm -rf "$work/base" && mkdir -p "$work/base"
  local start=$(now)
  "$venv/bin/manim" render "-q$flag" --disable_caching --silent --progress_bar none --media_dir "$work/base/media" "$script" $scenes >/dev/null 2>&1
  local folder="$work/base/media/videos/$(basename "${script%.py}")/${height}p${fps}"
  : > "$work/base/list.txt"
  for scene in $scenes; do echo "file '$folder/$scene.mp4'" >> "$work/base/list.txt"; done
  local maps="" filters="" i=0
  local n=$(echo $ladder | wc -w)
  filters="[0:v]split=$n"
  for h in $ladder; do filters="$filters[v$i]"; i=$((i+1)); done
  filters="$filters;"
  i=0
  for h in $ladder; do
    filters="$filters[v$i]scale=-2:$h[o$i];"
    maps="$maps -map [o$i] -c:v:$i libx264 -preset veryfast -crf 23 -threads 1 -bf 0 -g $((2*fps)) -keyint_min $((2*fps)) -sc_threshold 0 -flags +cgop"
    i=$((i+1))
  done
  local streams=$(seq -s ' ' 0 $((n-1)) | sed 's/\([0-9]\+\)/v:\1/g')
  ffmpeg -v error -f concat -safe 0 -i "$work/base/list.txt" -filter_complex "${filters%;}" $maps \
    -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 -master_pl_name master.m3u8 \
    -var_stream_map "$streams" "$work/base/out_%v.m3u8"
  python3 -c "print($(now) - $start)"
}

start_farm() {
  "$bin/farm" up --agents "$agents" --data-dir "$work/farm" --http 127.0.0.1:18080 --zmq tcp://127.0.0.1:15555 \
    --python "$venv/bin/python" ${FARM_BENCH_UP_ARGS:-} >"$work/farm.log" 2>&1 &
  farm_pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$farm_pid" 2>/dev/null || break  # it exited (a port taken, for example): its log says why
    curl -fs http://127.0.0.1:18080/healthz >/dev/null 2>&1 && return
    sleep 0.2
  done
  echo "farm did not start" >&2; cat "$work/farm.log" >&2; exit 1
}

farm_once() {
  local start=$(now)
  if ! "$bin/farm" submit "$script" --quality "$quality" --seed "$RANDOM" --no-cache --wait --coordinator http://127.0.0.1:18080 \
      --api-key "@$work/farm/coordinator/keys/admin.key" \
      >"$work/submit.log" 2>&1; then
    echo "farm submit failed:" >&2; tail -20 "$work/submit.log" >&2; tail -20 "$work/farm.log" >&2; exit 1
  fi
  python3 -c "print($(now) - $start)"
}

echo "script: $script  quality: $quality ($ladder at ${fps} fps)  agents: $agents  runs: $runs"
start_farm
base=() farm=()
for run in $(seq 1 "$runs"); do
  b=$(baseline_once); f=$(farm_once)
  base+=("$b"); farm+=("$f")
  printf 'run %d: baseline %.1f s   farm %.1f s\n' "$run" "$b" "$f"
done
mb=$(median "${base[@]}"); mf=$(median "${farm[@]}")
printf 'median: baseline %.1f s   farm %.1f s   ratio farm/baseline %.2f\n' "$mb" "$mf" "$(python3 -c "print($mf/$mb)")"
