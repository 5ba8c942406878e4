"""Fuzzing the ways in: real files (pydicom's own test files, one per transfer syntax) are
truncated, bit-flipped, overwritten, given absurd lengths and re-deflated, then sent through
the header reader, the browser upload (files, zips, photos) and STOW-RS. Every file must be
accepted or refused with a reason: no request fails with a 5xx, no case hangs, and the good
file sent with the damaged ones is always stored.

Seeded: each case draws from Random(f"{seed}:{kind}:{index}"), so a failure names its seed and
case and reproduces alone; its input is saved under test-artifacts/fuzz/. FUZZ_SEED picks the
seed (fixed by default, so CI is stable), FUZZ_CASES the number of files through the reader
(the endpoints get a proportion); `make fuzz` runs 5000 with a fresh seed.
"""

from __future__ import annotations

import io
import os
import random
import signal
import struct
import traceback
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image
from pydicom.data import get_testdata_file

from tests.viewer.dicom_builders import make_dataset, to_bytes
from tests.viewer.ingest.test_ingest_batching import stow_body
from viewer.ingest import reader as ingest
from viewer.ingest.services import ingest_limits
from viewer.models import Instance

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SEED = int(os.environ.get("FUZZ_SEED", "20261205"))
CASES = int(os.environ.get("FUZZ_CASES", "400"))
# Damaged files per endpoint run, sent this many per request next to one good file.
ENDPOINT_CASES = max(CASES // 10, 20)
PER_REQUEST = 5
# A case that runs past this is reported as hung (the header reader's own deadline is
# IMAGING_PARSE_SECONDS, 10 s; the machine may be busy).
CASE_SECONDS = float(os.environ.get("FUZZ_CASE_SECONDS", "30"))
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "fuzz"

# One file per transfer syntax, and headers with sequences.
CORPUS = [
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small.dcm",  # Explicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "MR_small_RLE.dcm",  # RLE Lossless
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG Baseline
    "JPGExtended.dcm",  # JPEG Extended
    "UN_sequence.dcm",  # JPEG Lossless, with a sequence of unknown VR
    "MR_small_jp2klossless.dcm",  # JPEG 2000 Lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless
    "rtplan.dcm",  # nested sequences
    "nested_priv_SQ.dcm",  # private nested sequences
]
UGLY_LENGTHS = [0, 1, 2, 3, 0xFFFF, 0xFFFE, 0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000]


class CaseHung(BaseException):
    """Raised by the alarm: not an Exception, so no `except Exception` in the product eats it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise CaseHung(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Failures:
    """Failed cases, each with how to reproduce it and its saved input."""

    kind: str
    found: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, case: str, what: str, inputs: dict[str, bytes]) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        saved = []
        for name, data in inputs.items():
            path = ARTIFACTS / f"{SEED}-{case}-{name.replace('/', '_')}"
            path.write_bytes(data)
            saved.append(str(path))
        self.found.append(f"FUZZ_SEED={SEED} case {case}: {what}\n  inputs: {', '.join(saved)}")

    def check(self) -> None:
        print(f"\n{self.kind} (FUZZ_SEED={SEED}): {dict(sorted(self.outcomes.items()))}")
        if self.found:
            pytest.fail(
                f"{len(self.found)} {self.kind} case(s) failed:\n" + "\n".join(self.found[:20]),
                pytrace=False,
            )


@dataclass(frozen=True)
class Mutated:
    name: str
    data: bytes
    how: str


def corpus() -> dict[str, bytes]:
    return {name: Path(get_testdata_file(name)).read_bytes() for name in CORPUS}


def _header_end(data: bytes) -> int:
    """Where mutations hurt most: the meta group and the dataset's header (not the pixels)."""
    at = data.rfind(b"\xe0\x7f\x10\x00")  # (7FE0,0010) little endian
    if at < 0:
        at = data.rfind(b"\x7f\xe0\x00\x10")  # big endian
    return at + 12 if at > 0 else min(len(data), 4096)


def _where(rng: random.Random, data: bytes | bytearray) -> int:
    if not data:
        return 0
    end = _header_end(bytes(data)) if rng.random() < 0.85 else len(data)
    return rng.randrange(max(1, min(end, len(data))))


def _truncate(rng: random.Random, data: bytearray) -> str:
    at = _where(rng, data)
    del data[at:]
    return f"truncate@{at}"


def _flip(rng: random.Random, data: bytearray) -> str:
    spots = []
    for _ in range(rng.randint(1, 16)):
        if data:
            at = _where(rng, data)
            data[at] ^= 1 << rng.randrange(8)
            spots.append(at)
    return f"flip@{spots}"


def _overwrite(rng: random.Random, data: bytearray) -> str:
    at, run = _where(rng, data), rng.randint(1, 64)
    data[at : at + run] = rng.randbytes(run)
    return f"overwrite@{at}+{run}"


def _length(rng: random.Random, data: bytearray) -> str:
    """An absurd or random value where a length may be (2 or 4 bytes, either byte order)."""
    at = _where(rng, data) & ~1
    value = rng.choice([*UGLY_LENGTHS, rng.randrange(2**32), len(data), len(data) + 1])
    width = rng.choice([2, 4])
    order = rng.choice("<>")
    packed = struct.pack(
        order + ("H" if width == 2 else "L"), value & (0xFFFF if width == 2 else 0xFFFFFFFF)
    )
    data[at : at + width] = packed
    return f"length@{at}={value:#x}/{width}{order}"


def _splice(rng: random.Random, data: bytearray) -> str:
    at = _where(rng, data)
    if rng.random() < 0.5:
        run = rng.randint(1, 256)
        data[at:at] = rng.randbytes(run)
        return f"insert@{at}+{run}"
    run = rng.randint(1, 256)
    del data[at : at + run]
    return f"delete@{at}+{run}"


MUTATIONS: list[Callable[[random.Random, bytearray], str]] = [
    _truncate,
    _flip,
    _overwrite,
    _length,
    _splice,
]


def _meta_end(data: bytes) -> int:
    (group_length,) = struct.unpack("<L", data[140:144])
    return 144 + group_length


def _deflated(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """For a deflated file: damage the inflated dataset and deflate it again (reaches the
    element parser), or replace the deflate stream with random bytes."""
    end = _meta_end(data)
    if rng.random() < 0.3:
        return data[:end] + rng.randbytes(rng.randint(0, 4096)), "random deflate stream"
    body = bytearray(zlib.decompress(data[end:], -zlib.MAX_WBITS))
    how = rng.choice(MUTATIONS)(rng, body)
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return data[:end] + packer.compress(bytes(body)) + packer.flush(), f"inflated {how}"


def mutate(rng: random.Random, files: dict[str, bytes]) -> Mutated:
    name = rng.choice(sorted(files))
    data = files[name]
    if name == "image_dfl.dcm" and rng.random() < 0.5:
        out, how = _deflated(rng, data)
        return Mutated(name, out, how)
    buf = bytearray(data)
    hows = [rng.choice(MUTATIONS)(rng, buf) for _ in range(rng.choice([1, 1, 2, 3]))]
    return Mutated(name, bytes(buf), " + ".join(hows))


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc, limit=-4)).strip()


def test_mutated_files_are_accepted_or_refused_with_a_reason_by_the_header_reader():
    files, limits = corpus(), ingest_limits()
    failures = Failures("header reader")
    for index in range(CASES):
        rng = random.Random(f"{SEED}:reader:{index}")
        case = mutate(rng, files)
        try:
            with deadline(CASE_SECONDS):
                ingest.parse_header(io.BytesIO(case.data), size=len(case.data), limits=limits)
            failures.outcomes["accepted"] += 1
        except ingest.IngestError as exc:
            failures.outcomes[exc.code] += 1
            if not str(exc):
                failures.add(f"reader-{index}", f"{case.name} {case.how}: no reason", {})
        except (Exception, CaseHung) as exc:
            what = f"{case.name} {case.how}: {_describe(exc)}"
            failures.add(f"reader-{index}", what, {case.name: case.data})
    failures.check()


def _good_file() -> tuple[str, bytes]:
    ds = make_dataset()  # PatientID C000123: the child's MRN at the county hospital
    return ds.SOPInstanceUID, to_bytes(ds)


def _zipped(rng: random.Random, members: list[Mutated]) -> Mutated:
    out = io.BytesIO()
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for n, member in enumerate(members):
            archive.writestr(f"{n}/{member.name}", member.data)
    data = bytearray(out.getvalue())
    how = "zip of " + "; ".join(m.how for m in members)
    if rng.random() < 0.7:
        how += " then " + rng.choice(MUTATIONS)(rng, data)
    return Mutated("fuzz.zip", bytes(data), how)


def _requests(kind: str, files: dict[str, bytes], zips: bool) -> Iterator[tuple[int, list]]:
    for request in range(-(-ENDPOINT_CASES // PER_REQUEST)):
        rng = random.Random(f"{SEED}:{kind}:{request}")
        batch = [mutate(rng, files) for _ in range(PER_REQUEST)]
        if zips and rng.random() < 0.4:
            batch[-1] = _zipped(rng, [mutate(rng, files), mutate(rng, files)])
        yield request, batch


def _send(failures: Failures, case: str, send: Callable[[], object], inputs: dict) -> object:
    try:
        with deadline(CASE_SECONDS):
            return send()
    except (Exception, CaseHung) as exc:
        failures.add(case, _describe(exc), inputs)
        return None


def test_mutated_files_through_the_upload_never_fail_the_request(login, county_doctor, child):
    client, files = login(county_doctor), corpus()
    url = reverse("viewer:upload-files", args=[child.pk])
    failures = Failures("upload")
    for request, batch in _requests("upload", files, zips=True):
        good_uid, good = _good_file()
        names = ["good.dcm"] + [f"{n}-{m.name}" for n, m in enumerate(batch)]
        datas = [good] + [m.data for m in batch]
        case = f"upload-{request}"
        inputs = dict(zip(names, datas, strict=True))
        payload = {"file": [_upload(name, data) for name, data in inputs.items()]}
        response = _send(failures, case, lambda p=payload: client.post(url, p), inputs)
        if response is None:
            continue
        hows = "; ".join(f"{m.name} {m.how}" for m in batch)
        if response.status_code != 200:
            failures.add(case, f"HTTP {response.status_code} for {hows}", inputs)
            continue
        results = response.json()["results"]
        for result in results:
            failures.outcomes[result["code"] or result["status"]] += 1
            if result["status"] == "rejected" and not result["reason"]:
                failures.add(case, f"{result['name']} refused without a reason", inputs)
        first = results[0]
        if (
            first["status"] != "accepted"
            or not Instance.objects.filter(sop_instance_uid=good_uid).exists()
        ):
            failures.add(case, f"the good file was not stored ({first}) with {hows}", inputs)
    failures.check()


def _upload(name: str, data: bytes):  # noqa: ANN202 - Django's SimpleUploadedFile
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_mutated_files_through_stow_never_fail_the_request(client, county_token, child):
    files, failures = corpus(), Failures("STOW-RS")
    for request, batch in _requests("stow", files, zips=False):
        good_uid, good = _good_file()
        inputs = {"good.dcm": good} | {f"{n}-{m.name}": m.data for n, m in enumerate(batch)}
        body, ctype = stow_body(list(inputs.values()))
        case = f"stow-{request}"

        def send(body: bytes = body, ctype: str = ctype) -> object:
            return client.post(
                "/dicomweb/studies",
                data=body,
                content_type=ctype,
                headers={"Authorization": f"Bearer {county_token}"},
            )

        response = _send(failures, case, send, inputs)
        if response is None:
            continue
        hows = "; ".join(f"{m.name} {m.how}" for m in batch)
        if response.status_code not in (200, 202):
            failures.add(case, f"HTTP {response.status_code} for {hows}", inputs)
            continue
        answer = response.json()
        stored = [
            item["00081155"]["Value"][0] for item in answer.get("00081199", {}).get("Value", [])
        ]
        for item in answer.get("00081198", {}).get("Value", []):
            failures.outcomes[f"failed {item['00081197']['Value'][0]:#06x}"] += 1
            if not item["00000902"]["Value"][0].partition(": ")[2]:
                failures.add(case, f"a failure without a reason: {item}", inputs)
        failures.outcomes["stored"] += len(stored)
        if (
            good_uid not in stored
            or not Instance.objects.filter(sop_instance_uid=good_uid).exists()
        ):
            failures.add(case, f"the good file was not stored with {hows}", inputs)
    failures.check()


def _pictures() -> dict[str, bytes]:
    out = {}
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.new("RGB", (48, 32), "gray").save(buf, format=fmt)
        out[f"photo.{fmt.lower()}"] = buf.getvalue()
    out["report.pdf"] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return out


def test_mutated_photos_and_pdfs_are_wrapped_or_refused_with_a_reason(login, county_doctor, child):
    client, pictures = login(county_doctor), _pictures()
    url = reverse("viewer:upload-photo", args=[child.pk])
    failures = Failures("photo upload")
    for index in range(ENDPOINT_CASES):
        rng = random.Random(f"{SEED}:photo:{index}")
        name = rng.choice(sorted(pictures))
        data = bytearray(pictures[name])
        how = " + ".join(rng.choice(MUTATIONS)(rng, data) for _ in range(rng.choice([1, 2])))
        case, inputs = f"photo-{index}", {name: bytes(data)}
        payload = {
            "file": _upload(name, bytes(data)),
            "kind": rng.choice(["film", "document"]),
            "batch": f"fuzz-{index:04d}",
        }
        response = _send(failures, case, lambda p=payload: client.post(url, p), inputs)
        if response is None:
            continue
        if response.status_code == 400 and response.json().get("detail"):
            failures.outcomes["400 form"] += 1  # an empty file: the form says so
            continue
        if response.status_code != 200:
            failures.add(case, f"HTTP {response.status_code} for {name} {how}", inputs)
            continue
        [result] = response.json()["results"]
        failures.outcomes[result["code"] or result["status"]] += 1
        if result["status"] == "rejected" and not result["reason"]:
            failures.add(case, f"{name} {how} refused without a reason", inputs)
    failures.check()
