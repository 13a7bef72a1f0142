"""docs/reverse-proxy.md: the Caddy and nginx configurations it shows are valid as
shown (checked by ``caddy validate`` and ``nginx -t`` when those are installed:
``apt-get install -y caddy nginx``) and keep what the dashboard relies on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from device.config import Config

DOC = Path(__file__).resolve().parents[1] / "docs" / "reverse-proxy.md"


def block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(found) == 1, f"one ```{language} block in {DOC}"
    return found[0]


def needs(program: str) -> str:
    path = shutil.which(program) or next((p for p in (f"/usr/sbin/{program}",) if Path(p).exists()), None)
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):  # tools/bootstrap.sh installs it
            pytest.fail(f"{program} is not installed (apt-get install -y {program})")
        pytest.skip(f"{program} is not installed (apt-get install -y {program})")
    return path


def test_both_proxies_pass_the_host_header_to_the_loopback_dashboard():
    port = Config().dashboard.port
    caddy, nginx = block("caddyfile"), block("nginx")
    assert f"reverse_proxy 127.0.0.1:{port}" in caddy and "header_up Host" not in caddy
    assert nginx.count(f"proxy_pass http://127.0.0.1:{port};") == 2
    assert "proxy_set_header Host $http_host;" in nginx  # the port too: Origin is compared with it
    # the client's own address: without it every phone would look like the Pi itself
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "header_up -X-Forwarded-For" not in caddy  # Caddy sends it by itself
    for config in (caddy, nginx):  # the Pi's own name and address: names the dashboard answers to
        assert "raspberrypi.local" in config and "192.168.1.20" in config


def test_the_caddyfile_is_valid(tmp_path):
    caddy = needs("caddy")
    path = tmp_path / "Caddyfile"
    path.write_text(block("caddyfile"))
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PATH": "/usr/bin:/bin"}
    check = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", str(path)],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False)
    assert check.returncode == 0, check.stderr[-2000:]
    assert "Valid configuration" in check.stdout + check.stderr


def test_the_nginx_site_is_valid(tmp_path):
    nginx = needs("nginx")
    openssl = needs("openssl")
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=raspberrypi.local", "-keyout", str(tls / "key.pem"),
                    "-out", str(tls / "cert.pem")], check=True, capture_output=True, timeout=60)
    site = block("nginx").replace("/etc/crampwatch/tls/", f"{tls}/")
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    # the site as Debian's nginx.conf includes it: inside http {}, with its mime types
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
                    f"http {{\ninclude /etc/nginx/mime.types;\naccess_log off;\n{site}}}\n")
    check = subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(conf),
                            "-e", str(tmp_path / "logs" / "error.log")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr
    assert "warn" not in check.stderr, check.stderr
