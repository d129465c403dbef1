#!/usr/bin/env bash
# Build the one-folder Linux bundle (dist/galaxyscope/) with PyInstaller, then run it from a
# clean, empty temporary directory to prove it needs nothing from the checkout.
#
#   bash packaging/build_bundle.sh            # install PyInstaller if needed, build, smoke-test
#   bash packaging/build_bundle.sh --no-build # smoke-test an existing dist/galaxyscope only
#
# Environment: GALAXYSCOPE_VENV (default .venv) is the virtual environment to build from;
# NICE (default 15) is the nice level of the build. The smoke test runs `--version`,
# `info` on a bundled FITS sample, `synth --workers 2` (spawned worker processes in a
# frozen program), `demo --headless` and `demo --screenshot OUT.png` under xvfb-run
# (QT_QPA_PLATFORM=offscreen where xvfb-run is missing), and checks the PNG.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${GALAXYSCOPE_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
BUNDLE=$ROOT/dist/galaxyscope/galaxyscope
log() { printf '[galaxyscope bundle] %s\n' "$*" >&2; }

[ -x "$PY" ] || { log "error: no virtual environment at $VENV (run: bash packaging/bootstrap.sh setup)"; exit 1; }

if [ "${1:-}" != "--no-build" ]; then
  if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
    log "installing PyInstaller into $VENV"
    "$PY" -m pip install -q 'pyinstaller>=6,<7'
  fi
  log "building with $("$PY" -m PyInstaller --version 2>/dev/null | head -1) (nice ${NICE:-15}); this takes a few minutes"
  start=$(date +%s)
  nice -n "${NICE:-15}" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
      --distpath "$ROOT/dist" --workpath "$ROOT/build" packaging/galaxyscope.spec
  log "built in $(( $(date +%s) - start )) s: $(du -sh "$ROOT/dist/galaxyscope" | cut -f1) in dist/galaxyscope/"
fi
[ -x "$BUNDLE" ] || { log "error: no bundle at $BUNDLE"; exit 1; }

# --- smoke test from a clean directory, with a clean environment -----------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/galaxyscope-bundle-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# nothing of the checkout or the venv may leak in: own HOME, cache, settings and database
run() {
  env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 \
      GALAXYSCOPE_CACHE="$WORK/cache" GALAXYSCOPE_SETTINGS="$WORK/settings.ini" \
      GALAXYSCOPE_DB="$WORK/annotations.sqlite" ${EXTRA_ENV:-} "$@"
}
mkdir -p "$WORK/home"

log "1/5 --version"
run "$BUNDLE" --version | tee "$WORK/version.txt"
grep -q '^galaxyscope ' "$WORK/version.txt"

log "2/5 info on the bundled FITS sample"
FITS=$(dirname "$BUNDLE")/_internal/resources/samples/sdss-fits/1_15_SDSS_gband.fits
run "$BUNDLE" info "$FITS"

log "3/5 synth with 2 worker processes"
run "$BUNDLE" synth "$WORK/synth" --n 4 --seed 1 --size 96 --workers 2 >/dev/null
[ "$(find "$WORK/synth" -name '*.jpg' | wc -l)" -eq 4 ] || { log "error: synth did not write 4 images"; exit 1; }

log "4/5 demo --headless"
run "$BUNDLE" demo --headless --n 4 --samples 5 --out "$WORK/demo-set" | tail -n 6

log "5/5 demo --screenshot"
if command -v xvfb-run >/dev/null 2>&1; then
  run xvfb-run -a "$BUNDLE" demo --screenshot "$WORK/demo.png" --size 1200x800
else
  EXTRA_ENV=QT_QPA_PLATFORM=offscreen run "$BUNDLE" demo --screenshot "$WORK/demo.png" --size 1200x800
fi
[ -s "$WORK/demo.png" ] && [ "$(head -c 8 "$WORK/demo.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
  || { log "error: demo --screenshot wrote no PNG"; exit 1; }
mkdir -p "$ROOT/dist"
cp "$WORK/demo.png" "$ROOT/dist/bundle-demo.png"
log "ok: the bundle ran from $WORK; its screenshot is dist/bundle-demo.png"
