#!/usr/bin/env bash
# One-command set-up for a fresh Debian/Ubuntu machine with Python 3.11, then run a job.
#
#   bash packaging/bootstrap.sh demo [ARGS]   # set up, then run the demo
#   bash packaging/bootstrap.sh test [ARGS]   # set up, then run the whole test suite
#   bash packaging/bootstrap.sh setup         # set up only
#
# Idempotent: system libraries are installed only where missing, the venv is made
# once, and pip runs again only when pyproject.toml changed. torch is installed
# before captum (which depends on it) so pip never picks a multi-GB build by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${GALAXYSCOPE_VENV:-$ROOT/.venv}
ACTION=${1:-setup}
[ $# -gt 0 ] && shift

log() { printf '[galaxyscope setup] %s\n' "$*" >&2; }

# --- 1. Qt's system libraries (Debian package names), only where missing ----------
QT_LIBS=(libglib2.0-0 libgl1 libegl1 libdbus-1-3 libfontconfig1 libxkbcommon0)
X_LIBS=(libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
        libxcb-render-util0 libxcb-shape0 libxcb-xkb1 xvfb xauth)
want=("${QT_LIBS[@]}")
[ "$ACTION" = demo ] && want+=("${X_LIBS[@]}")
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    log "installing system libraries: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "warning: missing system libraries (${missing[*]}); install them with apt-get as root"
  fi
fi

# --- 2. Python 3.11+ virtual environment -----------------------------------------
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { log "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV with $PY"
  "$PY" -m venv "$VENV" || { log "error: '$PY -m venv' failed (on Debian: apt-get install python3-venv)"; exit 1; }
fi

# --- 3. Python packages, re-installed only when pyproject.toml changes -----------
STAMP="$VENV/.galaxyscope-stamp"
want_stamp=$(cat pyproject.toml packaging/bootstrap.sh | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want_stamp" ]; then
  TORCH_PIN=$(grep -oE '"torch==[^"]+"' pyproject.toml | tr -d '"')
  log "installing $TORCH_PIN first, then galaxyscope and its test tools"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install -q "$TORCH_PIN"
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  echo "$want_stamp" > "$STAMP"
fi

# --- 4. the job -------------------------------------------------------------------
case "$ACTION" in
  setup) log "ready: $VENV/bin/galaxyscope" ;;
  demo)  exec "$VENV/bin/galaxyscope" demo "$@" ;;
  test)  export QT_QPA_PLATFORM=offscreen
         "$VENV/bin/lint-imports"   # the layering (pyproject's [tool.importlinter]); set -e stops on a break
         exec "$VENV/bin/python" -m pytest "$@" ;;
  *) log "unknown action '$ACTION' (use setup, demo or test)"; exit 2 ;;
esac
