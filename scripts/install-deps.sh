#!/usr/bin/env bash
# Installs everything ManimFarm needs on Debian 12, idempotently.
#   scripts/install-deps.sh [--runtime-only] [--no-latex] [--no-manim] [--test-tools]
#     --runtime-only  shared libraries instead of headers, and no venv (a runtime image copies the built one)
#     --no-manim      no Manim venv, no LaTeX (the coordinator)
#     --no-latex      Manim without TeX Live (an agent that will not take MathTex scenes)
#     --test-tools    ffmpeg/ffprobe and PostgreSQL, for the tests only
# Used by `make demo`, `make test`, .ci/run and both Dockerfiles, so every
# environment is built by the steps CI proves on each commit.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${FARM_VENV:-$here/.venv}
manim_version=$(cat "$here/python/MANIM_VERSION")
# Every package of the render environment, pinned with hashes: agents installed a week apart render alike.
lock="$here/python/requirements.lock"

want_latex=1 want_manim=1 want_test_tools=0 want_build=1
for arg in "$@"; do
  case "$arg" in
    --no-latex) want_latex=0 ;;
    --no-manim) want_manim=0; want_latex=0 ;;
    --runtime-only) want_build=0 ;;
    --test-tools) want_test_tools=1 ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

# python3 is the coordinator's script parser (ast only) as well as the base of Manim's venv.
# espeak-ng: the offline speech engine; agents narrate with it, the coordinator serves POST /v1/speech with it.
packages=(pkg-config ca-certificates curl bc python3 espeak-ng)
if [ $want_build = 1 ]; then
  packages+=(libzmq3-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev liblz4-dev libsqlite3-dev)
else
  packages+=(libzmq5 libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 liblz4-1 libsqlite3-0 zlib1g)
fi
if [ $want_manim = 1 ]; then
  # bubblewrap: agents run every Manim process in a sandbox (see docs/security.md).
  # sox: manim-voiceover imports the sox module, which looks for the program (and changes speech speed with it).
  packages+=(bubblewrap sox)
  if [ $want_build = 1 ]; then
    # cairo/pango headers: pycairo and manimpango build against them when no wheel fits.
    packages+=(libcairo2-dev libpango1.0-dev python3-dev python3-venv build-essential)
  else
    packages+=(libcairo2 libpangocairo-1.0-0 python3-venv)
  fi
fi
if [ $want_manim = 0 ]; then
  # The coordinator: `farm-coordinator backup`/`restore` of a PostgreSQL store use pg_dump and pg_restore.
  packages+=(postgresql-client)
fi
if [ $want_latex = 1 ]; then
  packages+=(texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
             texlive-science dvisvgm preview-latex-style)
fi
if [ $want_test_tools = 1 ]; then
  # chromium and its driver: tests play the farm's outputs in a real browser (selenium drives it).
  # prometheus: its promtool checks and unit-tests the alert rules and the dashboard's queries.
  packages+=(ffmpeg postgresql chromium chromium-driver prometheus)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Images set FARM_CLEAN_APT=1 to keep their layers small.
  if [ "${FARM_CLEAN_APT:-0}" = 1 ]; then rm -rf /var/lib/apt/lists/*; fi
fi

if [ $want_manim = 1 ] && [ $want_build = 1 ]; then
  python=${FARM_PYTHON:-$(command -v python3)}
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  grep -q "^manim==$manim_version " "$lock" || { echo "install-deps: $lock does not pin manim==$manim_version" >&2; exit 1; }
  stamp="$venv/.farm-requirements.sha256"
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c "import manim" 2>/dev/null; then
    echo "install-deps: installing the render environment (manim==$manim_version, python/requirements.lock) into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$lock"
    echo "$want" > "$stamp"
  fi
fi
if [ $want_test_tools = 1 ] && [ -x "$venv/bin/python" ]; then
  # moto plays the AWS Auto Scaling API locally for the scaling tests.
  if ! "$venv/bin/python" -c "import moto.server, boto3" 2>/dev/null; then
    echo "install-deps: installing moto[server] into $venv (tests only)"
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==5.1.*"
  fi
  # axe-selenium-python bundles axe-core, which checks the web pages for accessibility (no npm needed).
  if ! "$venv/bin/python" -c "import selenium, axe_selenium_python" 2>/dev/null; then
    echo "install-deps: installing selenium and axe-selenium-python into $venv (tests only)"
    "$venv/bin/pip" install -q --disable-pip-version-check "selenium==4.50.*" "axe-selenium-python==2.1.6"
  fi
fi
if [ $want_test_tools = 1 ]; then
  # schemathesis fuzzes the HTTP API from its OpenAPI document; it has its own venv (its pins are not Manim's).
  tools=$here/.venv-tools
  if ! "$tools/bin/st" --version >/dev/null 2>&1; then
    echo "install-deps: installing schemathesis into $tools (tests only)"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.*"
  fi
fi
echo "install-deps: ok"
