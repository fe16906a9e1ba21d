#!/usr/bin/env bash
# Install what the browser tests of offline maps need: Debian's chromium and the Noto CJK
# fonts (Chinese text in screenshots). Playwright's own browser download is never used
# (tests launch /usr/bin/chromium), so nothing else is fetched.
#
# Idempotent and quick when everything is there. As root, installs with apt; otherwise
# prints what to install. Exit status: 0 when chromium and the fonts are present at the end.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_browser: chromium and fonts-noto-cjk already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_browser: missing ${missing[*]}; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "install_browser: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# another apt may hold the lock for a while (e.g. a colleague's install): wait for it
for attempt in 1 2 3 4 5 6; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        echo "install_browser: done"
        exit 0
    fi
    echo "install_browser: apt failed (attempt $attempt), retrying in 20 s" >&2
    sleep 20
done
echo "install_browser: could not install ${missing[*]}" >&2
exit 1
