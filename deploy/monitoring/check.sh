#!/usr/bin/env bash
# Checks the monitoring code: the alert rules parse and pass their unit tests (promtool, from Debian's prometheus
# package), and the Grafana dashboard is well formed with every panel's PromQL parsed by promtool too.
# Run by `make test` (MonitoringTests); prints the metric names the rules and the dashboard use, one per line,
# after "metrics:", so the test can hold them against a live coordinator's /metrics.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
promtool=${PROMTOOL:-promtool}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$promtool" check rules "$here/alerts.yml"
(cd "$here" && "$promtool" test rules alerts.test.yml)

python3 - "$here/grafana-dashboard.json" "$work/dashboard-rules.yml" <<'PY'
import json, re, sys
dashboard = json.load(open(sys.argv[1]))
for key in ("uid", "title", "panels", "schemaVersion", "templating"):
    assert key in dashboard, f"the dashboard has no {key}"
ids, exprs = set(), []
for panel in dashboard["panels"]:
    assert panel["id"] not in ids, f"panel id {panel['id']} twice"
    ids.add(panel["id"])
    assert panel.get("title") and panel.get("type") and panel.get("gridPos"), f"panel {panel['id']} lacks a title, type or place"
    assert panel.get("targets"), f"panel {panel['title']} queries nothing"
    for target in panel["targets"]:
        assert target["datasource"]["type"] == "prometheus", f"{panel['title']}: not a Prometheus query"
        exprs.append((panel["title"], target["expr"]))
# promtool parses PromQL inside rule files: each panel's queries become recording rules ($job becomes a regex).
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for index, (title, expr) in enumerate(exprs):
        out.write(f"      - record: dashboard_query_{index}\n        expr: {json.dumps(expr.replace('$job', '.+'))}\n")
print(f"dashboard: {len(dashboard['panels'])} panels, {len(exprs)} queries")
PY
"$promtool" check rules "$work/dashboard-rules.yml"

echo "metrics:"
cat "$here/alerts.yml" "$here/grafana-dashboard.json" | grep -o 'farm_[a-z_]*' | sort -u
