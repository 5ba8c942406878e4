"""Viewer benchmark: rendered frames vs Orthanc, the browser's first image and full series,
the window/level step, and the Celery worker's cache generation rate.

Run with `python -m bench.viewer` (or `make bench`, which runs every bench module).
Environment: BENCH_SLICES (default 300), BENCH_SIZE (512), BENCH_DATABASE_URL
(postgres://postgres:postgres@127.0.0.1:5432/pedslink_bench_viewer), BENCH_REDIS_URL
(redis://127.0.0.1:6379/3), BENCH_WORKERS (uvicorn workers, 2), BENCH_WARM_ROUNDS (3),
BENCH_PARTS (load,worker,browser: which parts to run), BENCH_STORAGE (local; s3 stores
everything in a real S3-compatible server, s3rver from npm, started here).

Rendered frames are asked for twice: by their DICOMweb URL (through Django's middleware, as
OHIF or any DICOMweb client) and by the signed links the viewer uses (viewer/rendering/links.py).

Both servers get the same requests: PedsLink's with the session cookie of a doctor, so
every image is checked for access (and audited) as in use.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SLICES = int(os.environ.get("BENCH_SLICES", "300"))
SIZE = int(os.environ.get("BENCH_SIZE", "512"))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/pedslink_bench_viewer"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WARM_ROUNDS = int(os.environ.get("BENCH_WARM_ROUNDS", "3"))
CONCURRENCY = (1, 8, 32)
PARTS = set(os.environ.get("BENCH_PARTS", "load,worker,browser").split(","))
PY = str(ROOT / ".venv" / "bin" / "python")
STORAGE = os.environ.get("BENCH_STORAGE", "local")
S3RVER_VERSION = "3.7.1"
STORAGE_ENV: dict[str, str] = {}  # the S3 settings when BENCH_STORAGE=s3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# ---------------------------------------------------------------- data


def make_slices(folder: Path) -> list[Path]:
    """A synthetic 16-bit CT: body ellipse, organs, bone ring and noise (realistic JPEG sizes)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(7)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE - 0.5
    body = (xx / 0.42) ** 2 + (yy / 0.32) ** 2 < 1
    bone = ((xx / 0.40) ** 2 + (yy / 0.30) ** 2 < 1) & ~((xx / 0.37) ** 2 + (yy / 0.27) ** 2 < 1)
    paths = []
    for i in range(SLICES):
        organ = ((xx - 0.1 * np.sin(i / 30)) / 0.12) ** 2 + ((yy + 0.05) / 0.09) ** 2 < 1
        hu = np.full((SIZE, SIZE), -1000, np.float32)
        hu[body] = 40
        hu[organ] = 60 + 20 * np.cos(i / 20)
        hu[bone] = 700
        hu += rng.normal(0, 12, hu.shape).astype(np.float32)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.Modality = "BENCH^CHILD", "BENCH001", "CT"
        ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20261120", 1, i + 1
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelSpacing = [0.7, 0.7]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.SliceLocation = float(i)
        ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
        path = folder / f"{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# PedsLink runs as in production (DEBUG=0: collected, compressed static files with their cache
# headers, no per-request debug bookkeeping); this process and the server share the keys so
# that the session made here is valid there.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "bench-viewer-" + uuid.uuid4().hex * 2,
    "PATIENT_ID_HMAC_KEY": "bench-viewer-hmac-" + uuid.uuid4().hex,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}


def django_setup(media: Path) -> None:
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        MEDIA_ROOT=str(media),
        CACHE_PREFIX="bench-viewer",
        DJANGO_SETTINGS_MODULE="pedslink.settings",
        **PRODUCTION_ENV,
        **STORAGE_ENV,
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def recreate_database() -> None:
    import psycopg

    url = DATABASE_URL.rsplit("/", 1)
    name = url[1]
    with psycopg.connect(url[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def index_study(paths: list[Path]) -> tuple[str, list[tuple[str, str, str]], str, list[int]]:
    """Store the files and index them as the ingest would; returns the study UID, the
    (study, series, instance) UIDs, a session cookie of a doctor who may see it, and ids."""
    import hashlib

    import pydicom
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from consult.models import Hospital, Patient, PatientIdentifier, Role, User
    from viewer.models import Instance, Series, Study

    hospital = Hospital.objects.create(code="BENCH", name_zh="基准县医院", name_en="Bench County")
    child = Patient.objects.create(
        name="基准", sex="M", birth_date="2024-03-15", home_hospital=hospital
    )
    PatientIdentifier.objects.create(patient=child, hospital=hospital, mrn="BENCH001")
    doctor = User.objects.create_user(
        username="bench", password=None, role=Role.REFERRING_DOCTOR, hospital=hospital
    )
    first = pydicom.dcmread(paths[0], stop_before_pixels=True)
    study = Study.objects.create(
        study_instance_uid=first.StudyInstanceUID,
        patient=child,
        hospital=hospital,
        modalities="CT",
        description="BENCH CT",
    )
    series = Series.objects.create(
        study=study,
        series_instance_uid=first.SeriesInstanceUID,
        modality="CT",
        series_number=1,
        frame_of_reference_uid=first.FrameOfReferenceUID,
    )
    uids, ids = [], []
    for i, path in enumerate(paths):
        data = path.read_bytes()
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        key = default_storage.save(f"dicom/bench/{i:04d}.dcm", ContentFile(data))
        inst = Instance.objects.create(
            series=series,
            sop_instance_uid=ds.SOPInstanceUID,
            sop_class_uid=ds.SOPClassUID,
            instance_number=i + 1,
            transfer_syntax_uid=ds.file_meta.TransferSyntaxUID,
            rows=SIZE,
            columns=SIZE,
            pixel_spacing="0.7\\0.7",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=key,
            source="web",
            sending_hospital=hospital,
        )
        uids.append((study.study_instance_uid, series.series_instance_uid, ds.SOPInstanceUID))
        ids.append(inst.pk)
    session = SessionStore()
    session[SESSION_KEY] = str(doctor.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = doctor.get_session_auth_hash()
    session.set_expiry(24 * 3600)
    session.save()
    return study.study_instance_uid, uids, session.session_key, ids


# ---------------------------------------------------------------- load


def run_load(
    port: int, paths: list[str], clients: int, headers: dict[str, str]
) -> dict[str, float]:
    """Each client keeps one connection and takes the next path from a shared list."""
    lock = threading.Lock()
    queue = list(paths)
    latencies: list[float] = []
    errors = [0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        elsewhere: dict[str, http.client.HTTPConnection] = {}  # where redirects point (S3)
        while True:
            with lock:
                if not queue:
                    break
                path = queue.pop()
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status == 302:  # a presigned object-store URL: the client follows
                    target = urlsplit(response.headers["Location"])
                    other = elsewhere.setdefault(
                        target.netloc, http.client.HTTPConnection(target.netloc, timeout=120)
                    )
                    other.request("GET", f"{target.path}?{target.query}")
                    response = other.getresponse()
                    response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors[0] += 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": len(latencies) / total,
        "p50": 1000 * statistics.median(latencies),
        "p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "errors": errors[0],
        "n": len(latencies),
    }


def start_pedslink(media: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        MEDIA_ROOT=str(media),
        CACHE_PREFIX="bench-viewer",
        DB_POOL="1",
        LOG_LEVEL="WARNING",
        **STORAGE_ENV,
    )
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "uvicorn"),
            "pedslink.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-proxy-headers",  # as the Procfile: TRUSTED_PROXIES decides, in Django
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, port


def start_orthanc(folder: Path) -> tuple[subprocess.Popen, int]:
    if not shutil.which("Orthanc"):
        subprocess.run(
            [str(ROOT / "scripts" / "ensure_system.sh"), "orthanc", "orthanc-dicomweb"], check=True
        )
    port, dicom_port = free_port(), free_port()
    config = {
        "Name": "bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpThreadsCount": 50,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        ["Orthanc", str(folder / "orthanc.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_http(f"http://127.0.0.1:{port}/system")
    return proc, port


def upload_to_orthanc(port: int, paths: list[Path]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for path in paths:
        conn.request("POST", "/instances", body=path.read_bytes())
        conn.getresponse().read()
    conn.close()


def clear_render_cache(media: Path) -> None:
    if STORAGE == "s3":
        from django.core.files.storage import default_storage

        default_storage.bucket.objects.filter(Prefix="render-cache/").delete()
        return
    shutil.rmtree(media / "render-cache", ignore_errors=True)


def rendered_benchmark(
    ped_port: int, orthanc_port: int, uids: list, cookie: str, media: Path
) -> list[tuple]:
    rows = []
    ped_paths = [
        f"/dicomweb/studies/{s}/series/{se}/instances/{i}/frames/1/rendered" for s, se, i in uids
    ]
    orth_paths = [
        f"/dicom-web/studies/{s}/series/{se}/instances/{i}/frames/1/rendered" for s, se, i in uids
    ]
    ped_headers = {"Cookie": f"sessionid={cookie}", "Accept": "image/jpeg"}
    orth_headers = {"Accept": "image/jpeg"}
    for clients in CONCURRENCY:
        clear_render_cache(media)
        cold = run_load(ped_port, ped_paths, clients, ped_headers)
        warm = run_load(ped_port, ped_paths * WARM_ROUNDS, clients, ped_headers)
        orth = run_load(orthanc_port, orth_paths * WARM_ROUNDS, clients, orth_headers)
        rows.append((clients, cold, warm, orth))
    return rows


def signed_links(port: int, study_uid: str, cookie: str) -> list[str]:
    """The first frame of every instance as the viewer asks for it: the manifest's grant and
    each cached instance's key (the viewer page reads the same manifest)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/viewer/studies/{study_uid}/manifest.json",
        headers={"Cookie": f"sessionid={cookie}"},
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310 - loopback
        manifest = json.loads(answer.read())
    keys = [
        key
        for series in manifest["series"]
        for i in series["instances"]
        if (key := i.get("k") or series.get("shared", {}).get("k"))
    ]
    if not keys:
        raise RuntimeError("the manifest lists no cached instance: is the render cache built?")
    return [f"{manifest['frames']}/{key}/1.jpg" for key in keys]


def link_benchmark(ped_port: int, study_uid: str, cookie: str) -> list[tuple]:
    """Warm rendered frames by the viewer's signed links (the render cache is built)."""
    paths = signed_links(ped_port, study_uid, cookie)
    headers = {"Cookie": f"sessionid={cookie}"}
    return [(n, run_load(ped_port, paths * WARM_ROUNDS, n, headers)) for n in CONCURRENCY]


def start_s3rver(folder: Path) -> subprocess.Popen:
    """A real S3-compatible server (the npm package s3rver) with a bucket for the bench;
    sets STORAGE_ENV, which PedsLink's S3 settings read (pedslink/settings.py)."""
    prefix = ROOT / "var" / "node"
    binary = prefix / "node_modules" / ".bin" / "s3rver"
    if not binary.exists():
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(prefix),
                f"s3rver@{S3RVER_VERSION}",
            ],
            check=True,
        )
    port = free_port()
    cors = folder / "cors.xml"  # the page fetches redirected frames from another origin
    cors.write_text(
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader>"
        "<ExposeHeader>Content-Length</ExposeHeader></CORSRule></CORSConfiguration>"
    )
    proc = subprocess.Popen(
        [
            str(binary),
            "--directory",
            str(folder / "s3"),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--configure-bucket",
            "bench",
            str(cors),
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    STORAGE_ENV.update(
        S3_BUCKET="bench",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        S3_ACCESS_KEY_ID="S3RVER",  # s3rver's fixed development credentials
        S3_SECRET_ACCESS_KEY="S3RVER",  # noqa: S106 - s3rver accepts only these
        S3_REGION="us-east-1",
    )
    return proc


# ---------------------------------------------------------------- worker


def worker_rate(ids: list[int], media: Path) -> tuple[float, int]:
    """Queue the ingest hook for every instance (batches of 10) and time a real worker."""
    from viewer.models import RenderInfo
    from viewer.tasks import build_render_caches

    clear_render_cache(media)
    RenderInfo.objects.all().delete()
    env = dict(
        os.environ,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        MEDIA_ROOT=str(media),
        CACHE_PREFIX="bench-viewer",
    )
    queue = f"bench-viewer-{os.getpid()}"
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "pedslink",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        time.sleep(4)  # let the worker connect before the clock starts
        start = time.perf_counter()
        for k in range(0, len(ids), 10):
            build_render_caches.apply_async(args=[ids[k : k + 10]], queue=queue)
        while RenderInfo.objects.filter(cached_at__isnull=False).count() < len(ids):
            if time.perf_counter() - start > 900:
                raise RuntimeError("worker did not finish")
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    return len(ids) / elapsed, len(ids)


# ---------------------------------------------------------------- browser


def wait_quietly(page: Any, selector: str, timeout: float = 120) -> None:
    """Wait for `selector` without disturbing the page while it draws. Playwright's
    `wait_for_selector` injects its selector engine (a large script, 15-35 ms on this
    machine) into the page's main thread the moment it is called: called right after the
    load event, it ran in front of the first image's decode and draw. Here the page is left
    alone for a second (the first image is drawn long before), then polled with a plain
    evaluate (Playwright's much smaller utility script)."""
    time.sleep(1.0)
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => !!document.querySelector({json.dumps(selector)})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{selector} did not appear in {timeout} s")
        time.sleep(0.1)


CLICK_STAMP = """(uid) => {
    const link = document.querySelector(`a[href="/viewer/studies/${uid}/"]`);
    link.addEventListener("click", () => sessionStorage.setItem("bench-click-at",
        String(performance.timeOrigin + performance.now())), { once: true });
    return !!link;
}"""
# The new page's marks, moved to the time of the click on the previous page.
SINCE_CLICK = """() => {
    const at = Number(sessionStorage.getItem("bench-click-at"));
    const shift = performance.timeOrigin - at;
    const mark = (name) => performance.getEntriesByName(name)[0].startTime + shift;
    return {first_image: mark("viewer:first-image"), series_loaded: mark("viewer:series-loaded"),
            navigation_after_click: shift};
}"""


def browser_benchmark(port: int, study_uid: str, cookie: str) -> dict[str, float]:
    """Two ways into the viewer, on a desktop and a phone viewport:
    - click: the doctor is on the child's page and clicks the study (the issue's "from
      clicking a study"): the browser already holds the site's style sheets and fonts;
    - cold: a new browser profile opens the viewer's URL directly (nothing cached, a new
      renderer process): the worst case, timed from the start of the navigation.
    Frames are never in the browser's cache; the server's render cache is warm."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from viewer.models import Study

    base = f"http://127.0.0.1:{port}"
    viewer_url = f"{base}/viewer/studies/{study_uid}/"
    child = Study.objects.get(study_instance_uid=study_uid).patient_id
    warm = urllib.request.Request(viewer_url, headers={"Cookie": f"sessionid={cookie}"})
    out: dict[str, float] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for label, options in (
            ("desktop", {"viewport": {"width": 1366, "height": 900}}),
            (
                "phone",
                {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
            ),
        ):
            for _ in range(3):  # a warm server (templates compiled, pool filled)
                urllib.request.urlopen(warm).read()  # noqa: S310
            context = browser.new_context(**options)
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
            # Room for every frame's entry (the default buffer keeps 250 resources).
            context.add_init_script("performance.setResourceTimingBufferSize(5000)")
            page = context.new_page()  # a fresh browser cache: no frame comes from it
            page.goto(viewer_url)
            wait_quietly(page, "#vp-main[data-loaded='all']")
            out.update(cold_figures(page, label))
            if label == "desktop":
                out.update(window_level_figures(page))
            context.close()

            context = browser.new_context(**options)
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
            page = context.new_page()
            page.goto(f"{base}/patients/{child}/")
            if not page.evaluate(CLICK_STAMP, study_uid):
                raise RuntimeError("the child's page has no link to the study")
            page.click(f'a[href="/viewer/studies/{study_uid}/"]', no_wait_after=True)
            page.wait_for_url(viewer_url)
            wait_quietly(page, "#vp-main[data-loaded='all']")
            for key, value in page.evaluate(SINCE_CLICK).items():
                out[f"{label}_click_{key}_ms"] = value
            context.close()
        browser.close()
    return out


def cold_figures(page: Any, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    marks = page.evaluate(
        """() => Object.fromEntries(performance.getEntriesByType('mark')
            .map(m => [m.name, m.startTime]))"""
    )
    nav = page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
            const r = performance.getEntriesByType('resource');
            const first = r.find(e =>
                /frames\\/\\d+\\/(rendered|modality)|\\/frames\\/[^/]+\\/[^/]+\\/\\d+\\.(jpg|u16)/
                    .test(e.name));
            return {html: n.responseEnd, dcl: n.domContentLoadedEventEnd,
                    frame_start: first ? first.startTime : -1,
                    frame_end: first ? first.responseEnd : -1,
                    first_frame_requests:
                        r.filter(e => first && e.name === first.name).length}; }"""
    )
    # Series loading: batches of server JPEGs (phones) or one 16-bit frame per request.
    loads = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/frames?') || e.name.includes('/modality.')
                || /\\.(jpg|u16)$/.test(e.name))
            .map(e => [e.startTime, e.responseStart, e.responseEnd, e.encodedBodySize])"""
    )
    if loads:
        nav["load_requests"] = len(loads)
        nav["load_wait_mean"] = statistics.mean(b[1] - b[0] for b in loads)
        nav["load_download_mean"] = statistics.mean(b[2] - b[1] for b in loads)
        nav["load_last_end"] = max(b[2] for b in loads)
        nav["series_megabytes"] = sum(b[3] for b in loads) / 1e6
    for key, value in nav.items():
        unit = "" if key in ("load_requests", "series_megabytes", "first_frame_requests") else "_ms"
        out[f"{label}_cold_{key}{unit}"] = value
    for name in ("first-received", "first-decoded"):
        if f"viewer:{name}" in marks:
            out[f"{label}_cold_{name.replace('-', '_')}_ms"] = marks[f"viewer:{name}"]
    out[f"{label}_cold_first_image_ms"] = marks["viewer:first-image"]
    out[f"{label}_cold_series_loaded_ms"] = marks["viewer:series-loaded"]
    return out


def window_level_figures(page: Any) -> dict[str, float]:
    box = page.locator("#vp-main canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate("window.__viewerStats.wl.length = 0")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 200, y + 100, steps=60)
    page.mouse.up()
    steps = sorted(page.evaluate("window.__viewerStats.wl"))
    return {
        "wl_step_mean_ms": statistics.mean(steps),
        "wl_step_p95_ms": steps[int(0.95 * (len(steps) - 1))],
        "wl_step_max_ms": steps[-1],
    }


# ---------------------------------------------------------------- main


def fmt_row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<18} {r['rate']:8.1f} img/s  p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms"
        f"  ({r['n']} requests, {r['errors']} errors)"
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    media = work / "media"
    print(
        f"Viewer benchmark: {SLICES} CT slices {SIZE}x{SIZE} 16-bit, {WORKERS} uvicorn workers,"
        f" {STORAGE} storage"
    )
    procs: list[subprocess.Popen] = []
    try:
        if STORAGE == "s3":
            procs.append(start_s3rver(work))
        paths = make_slices(Path(tempfile.mkdtemp(dir=work)))
        recreate_database()
        django_setup(media)
        study_uid, uids, cookie, ids = index_study(paths)
        ped, ped_port = start_pedslink(media)
        procs.append(ped)
        if "load" in PARTS:
            orth, orth_port = start_orthanc(work)
            procs.append(orth)
            upload_to_orthanc(orth_port, paths)
            print(
                "\nRendered frame (JPEG) by DICOMweb URL, cold = empty render cache,"
                " warm = cached; Orthanc"
            )
            orthanc_rows = rendered_benchmark(ped_port, orth_port, uids, cookie, media)
            for clients, cold, warm, orth_r in orthanc_rows:
                print(f"-- {clients} concurrent clients")
                print(fmt_row("PedsLink cold", cold))
                print(fmt_row("PedsLink warm", warm))
                print(fmt_row("Orthanc", orth_r))
                print(f"   warm / Orthanc: {warm['rate'] / orth_r['rate']:.2f}x")

        if "worker" in PARTS:
            rate, n = worker_rate(ids, media)
            print(f"\nCelery worker (2 processes) cache build: {rate:.1f} frames/s over {n} frames")
            print(
                "  (per frame: default-window JPEG + lossless 16-bit form; plus series thumbnail)"
            )
        else:
            from viewer.rendering.cache import build_for_instances

            build_for_instances(ids)

        if "load" in PARTS:
            print("\nRendered frame (JPEG) by the viewer's signed links, warm; Orthanc as above")
            for (clients, link), (_, _, _, orth_r) in zip(
                link_benchmark(ped_port, study_uid, cookie), orthanc_rows, strict=True
            ):
                print(f"-- {clients} concurrent clients")
                print(fmt_row("PedsLink link", link))
                print(f"   link / Orthanc: {link['rate'] / orth_r['rate']:.2f}x")

        if "browser" not in PARTS:
            return
        figures = browser_benchmark(ped_port, study_uid, cookie)
        print("\nChromium (warm cache):")
        for key, value in figures.items():
            print(f"  {key:<28} {value:8.1f}")
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(work, ignore_errors=True)


def run() -> None:
    """Entry point for `python -m bench` / `make bench`, like the other benchmark modules."""
    main()


if __name__ == "__main__":
    main()
