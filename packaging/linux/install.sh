#!/bin/sh
# Install the unpacked cxrviewer bundle where it lies: a launcher on the PATH and a desktop entry.
#   ./install.sh              for this user (~/.local/bin, ~/.local/share)
#   sudo ./install.sh --system for everyone (/usr/local/bin, /usr/local/share); unpack under /opt first
#   ./install.sh --uninstall  [--system]   removes the launcher, the entry and the icon (not the folder)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SCOPE=user
ACTION=install
for arg in "$@"; do
    case "$arg" in
        --system) SCOPE=system ;;
        --uninstall) ACTION=uninstall ;;
        *) echo "usage: $0 [--system] [--uninstall]" >&2; exit 2 ;;
    esac
done
if [ "$SCOPE" = system ]; then
    BIN=/usr/local/bin
    SHARE=/usr/local/share
else
    BIN="$HOME/.local/bin"
    SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
ENTRY="$SHARE/applications/cxrviewer.desktop"
ICON="$SHARE/icons/hicolor/256x256/apps/cxrviewer.png"

if [ "$ACTION" = uninstall ]; then
    rm -f "$BIN/cxrviewer" "$ENTRY" "$ICON"
    echo "removed the launcher, desktop entry and icon; delete $HERE yourself"
    exit 0
fi
[ -x "$HERE/cxrviewer" ] || { echo "$HERE/cxrviewer is missing: unpack the whole archive" >&2; exit 1; }
mkdir -p "$BIN" "$(dirname "$ENTRY")" "$(dirname "$ICON")"
ln -sf "$HERE/cxrviewer" "$BIN/cxrviewer"
cp "$HERE/cxrviewer.png" "$ICON"
sed -e "s|@EXEC@|$HERE/cxrviewer|" -e "s|@ICON@|cxrviewer|" "$HERE/cxrviewer.desktop.in" > "$ENTRY"
chmod 644 "$ENTRY" "$ICON"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$(dirname "$ENTRY")" || true
echo "installed: $BIN/cxrviewer -> $HERE/cxrviewer, desktop entry $ENTRY"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "note: $BIN is not on your PATH" ;; esac
