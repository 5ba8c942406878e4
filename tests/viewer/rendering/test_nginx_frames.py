"""The production compose file's nginx (docker/nginx/pedslink.conf.template) in front of
uvicorn, both real: a verified frame link is sent by nginx from the media folder
(X-Accel-Redirect), anything else is Django's answer, and the media folder is not reachable
from outside."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import Process, free_port, port_open, subprocess_env, uvicorn_server, wait_for
from tests.viewer.rendering.test_frame_links import cached, get, links, session_cookie
from viewer.rendering import links as frame_links

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "docker" / "nginx" / "pedslink.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(folder: Path, *, listen: int, upstream: int, media: Path) -> Path:
    """The compose file's template as the nginx image fills it in, pointed at this test's
    uvicorn, media folder and static files."""
    site = TEMPLATE.read_text()
    site = site.replace("${NGINX_REAL_IP_FROM}", "127.0.0.2")
    site = site.replace("server web:8000;", f"server 127.0.0.1:{upstream};")
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    site = site.replace("/app/var/media/", f"{media}/")
    site = site.replace("/app/var/staticfiles/", f"{ROOT / 'static'}/")
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""daemon off;
user root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
"""
    )
    return conf


@pytest.fixture
def behind_nginx(transactional_db, media_root, tmp_path):
    from types import SimpleNamespace

    upstream, listen = free_port(), free_port()
    env = subprocess_env(
        MEDIA_ROOT=str(media_root),
        SITE_URL=f"http://127.0.0.1:{listen}",
        FRAME_ACCEL_REDIRECT="/_media/",
        TRUSTED_PROXIES="127.0.0.1",
    )
    web = uvicorn_server(upstream, env, tmp_path).start()
    conf = nginx_conf(tmp_path, listen=listen, upstream=upstream, media=media_root)
    check = subprocess.run(
        [NGINX, "-t", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    nginx = Process(f"nginx-{listen}", [NGINX, "-c", str(conf)], env, tmp_path).start()
    try:
        wait_for(lambda: port_open(upstream), 30, message=lambda: "uvicorn\n" + web.output())
        wait_for(lambda: port_open(listen), 30, message=lambda: "nginx\n" + nginx.output())
        yield SimpleNamespace(url=f"http://127.0.0.1:{listen}", port=listen)
    finally:
        nginx.kill()
        web.kill()


def test_nginx_sends_a_verified_frame_from_the_media_folder(
    behind_nginx, media_root, county_doctor, ct_study
):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    link = links(behind_nginx, ct_study, cookie)[0]
    answer = get(behind_nginx, link, Cookie=cookie)
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.fast and "x-accel-redirect" not in answer.headers
    key, _ = frame_links.parse(link).cache_keys()
    assert answer.body == (media_root / key).read_bytes()


def test_through_nginx_an_outsider_gets_404_and_the_media_folder_is_closed(
    behind_nginx, county_doctor, outsider, ct_study
):
    cached(ct_study)
    link = links(behind_nginx, ct_study, session_cookie(county_doctor))[0]
    assert get(behind_nginx, link, Cookie=session_cookie(outsider)).status == 404
    assert get(behind_nginx, "/_media/render-cache/").status == 404
    assert get(behind_nginx, "/static/css/viewer.css").status == 200
