#!/usr/bin/env bash
# Regenerate every picture in docs/ (and the icon PNG) from the real app.
#
#   bash packaging/screenshots.sh               # all: main annotate-blind annotate vetting bias mosaic icon
#   bash packaging/screenshots.sh annotate bias # some of them
#   bash packaging/screenshots.sh --list        # what each target is
#
# Runs `python -m tools.screenshots` from the venv (GALAXYSCOPE_VENV, default
# .venv); under xvfb-run when there is no display (Qt's offscreen platform otherwise).
# Each target gets a private temporary cache, settings file and annotation database.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${GALAXYSCOPE_VENV:-$PWD/.venv}
PY=$VENV/bin/python
[ -x "$PY" ] || { echo "no virtual environment at $VENV (run: bash packaging/bootstrap.sh setup)" >&2; exit 1; }
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1920x1200x24" "$PY" -m tools.screenshots "$@"
fi
exec "$PY" -m tools.screenshots "$@"
