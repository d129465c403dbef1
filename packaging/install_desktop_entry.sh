#!/usr/bin/env bash
# Install galaxyscope's desktop entry and icon for the current user (freedesktop/XDG menus:
# GNOME, KDE, Xfce, ...), pointing at the venv's or the bundle's executable.
#
#   bash packaging/install_desktop_entry.sh               # .venv/bin/galaxyscope
#   bash packaging/install_desktop_entry.sh --bundle      # dist/galaxyscope/galaxyscope (build_bundle.sh)
#   bash packaging/install_desktop_entry.sh --exec PATH   # any galaxyscope executable
#   bash packaging/install_desktop_entry.sh --uninstall   # remove what this script installed
#
# Files go under ${XDG_DATA_HOME:-~/.local/share}: applications/galaxyscope.desktop and
# icons/hicolor/{256x256,scalable}/apps/galaxyscope.{png,svg}. Nothing needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APPS=$DATA/applications
ICONS=$DATA/icons/hicolor
EXE=${GALAXYSCOPE_VENV:-$ROOT/.venv}/bin/galaxyscope
ACTION=install
log() { printf '[galaxyscope desktop] %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) EXE=$ROOT/dist/galaxyscope/galaxyscope ;;
    --exec) [ $# -ge 2 ] || { log "--exec needs a path"; exit 2; }; EXE=$2; shift ;;
    --uninstall) ACTION=uninstall ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option '$1' (see --help)"; exit 2 ;;
  esac
  shift
done

refresh() {  # let menus and icon themes notice; harmless where the tools are missing
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

if [ "$ACTION" = uninstall ]; then
  rm -f "$APPS/galaxyscope.desktop" "$ICONS/256x256/apps/galaxyscope.png" "$ICONS/scalable/apps/galaxyscope.svg"
  refresh
  log "removed the desktop entry and icons from $DATA"
  exit 0
fi

case "$EXE" in /*) ;; *) EXE=$PWD/$EXE ;; esac
[ -x "$EXE" ] || { log "error: no executable at $EXE (run packaging/bootstrap.sh setup, or build_bundle.sh for --bundle)"; exit 1; }

mkdir -p "$APPS" "$ICONS/256x256/apps" "$ICONS/scalable/apps"
install -m 644 resources/icons/galaxyscope.png "$ICONS/256x256/apps/galaxyscope.png"
install -m 644 resources/icons/galaxyscope.svg "$ICONS/scalable/apps/galaxyscope.svg"
# the entry names the executable by its absolute path: menus do not see the venv's PATH
# the desktop spec's quoting rule inside "...", then its string escape (a backslash is written \\)
quoted=$(printf '%s' "$EXE" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g')
for_sed() { printf '%s' "$1" | sed 's/[\\&|]/\\&/g'; }
sed -e "s|^Exec=galaxyscope |Exec=\"$(for_sed "$quoted")\" |" -e "s|^TryExec=galaxyscope\$|TryExec=$(for_sed "$EXE")|" \
    packaging/galaxyscope.desktop > "$APPS/galaxyscope.desktop.tmp"
mv "$APPS/galaxyscope.desktop.tmp" "$APPS/galaxyscope.desktop"
chmod 644 "$APPS/galaxyscope.desktop"
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$APPS/galaxyscope.desktop"
fi
refresh
log "installed $APPS/galaxyscope.desktop -> $EXE"
