#!/usr/bin/env bash
# After a deploy: the API answers, agents are connected, and a one-scene video renders end to end.
# FARM_API_KEY: an operator's API key (the agents list needs the operator role).
set -euo pipefail
api=${1:?usage: FARM_API_KEY=... smoke-test.sh API_URL}
key=${FARM_API_KEY:?set FARM_API_KEY to an operator API key}
auth=(-H "Authorization: Bearer $key")
curl -fsS "$api/healthz" >/dev/null
curl -fsS "${auth[@]}" "$api/v1/agents" >/dev/null
body=$(python3 -c 'import json; print(json.dumps({"script": "from manim import *\nclass Smoke(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n", "scriptName": "smoke.py", "quality": "low"}))')
id=$(curl -fsS "${auth[@]}" -X POST -H 'Content-Type: application/json' -d "$body" "$api/v1/videos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 120); do
  state=$(curl -fsS "${auth[@]}" "$api/v1/videos/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  case "$state" in done) echo "smoke test passed: $id"; exit 0 ;; failed|cancelled) echo "smoke video $id $state" >&2; exit 1 ;; esac
  sleep 2
done
echo "smoke video $id did not finish" >&2
exit 1
