# Shared by tools/run-tests and tools/demo: a Python 3.11+ virtualenv in .venv with
# crampwatch installed (with the extras given in $1), installing Debian packages
# that are missing when we are root (or have sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {  # apt_install PKG... : install the Debian packages that are absent
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}" >&2
        as_root apt-get update -qq
        # installed, never started: no package's service (nginx, caddy) may take a port
        local guard=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            guard=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null && as_root chmod 755 "$guard"
        fi
        local status=0
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || status=$?
        [ -z "$guard" ] || as_root rm -f "$guard"
        return "$status"
    fi
}

case ",${1:-}," in
    *,test,*)  # the MQTT tests run a real broker (tests/conftest.py)
        command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto
        # the dashboard's end-to-end tests drive Debian's Chromium (tests/test_dashboard_browser.py)
        [ -x /usr/bin/chromium ] || apt_install chromium
        # the wall-clock step tests run the daemon under libfaketime (tests/test_faults_clock.py)
        ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || apt_install faketime
        # docs/reverse-proxy.md's configurations are checked by the proxies themselves
        # (tests/test_reverse_proxy_docs.py); installed, never started
        command -v caddy >/dev/null || apt_install caddy
        command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx ;;
esac

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "crampwatch needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version))" >&2; exit 1; }
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
spec=.; [ -n "${1:-}" ] && spec=".[$1]"
log=$(mktemp)
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "pip install -e $spec failed" >&2; exit 1
fi
rm -f "$log"
.venv/bin/python -c 'import device, sensors' # fail here, not later, if the install did not work
