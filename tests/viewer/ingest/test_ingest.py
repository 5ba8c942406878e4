"""The pure header checks: transfer syntaxes, Chinese character sets, every bad input."""

import io
import struct
import time

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from viewer.ingest.reader import IngestError, Limits, decode_text, parse_header

LIMITS = Limits(
    max_file_bytes=50 * 1024**2,
    max_pixel_bytes=64 * 1024**2,
    max_zip_members=10,
    max_zip_bytes=10 * 1024**2,
    max_sequence_depth=12,
    parse_seconds=5,
)


def parse(data: bytes, limits: Limits = LIMITS):
    return parse_header(io.BytesIO(data), size=len(data), limits=limits)


def reason(data: bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(IngestError) as caught:
        parse(data, limits)
    return caught.value.code


@pytest.mark.parametrize(
    ("name", "transfer_syntax"),
    [
        ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
        ("CT_small.dcm", "1.2.840.10008.1.2.1"),
        ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
        ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),
        ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
        ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"),
        ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
        ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
        ("JPEGLSNearLossless_08.dcm", "1.2.840.10008.1.2.4.81"),
        ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
        ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91"),
    ],
)
def test_headers_parse_for_every_transfer_syntax(name, transfer_syntax):
    data = sample_with_uids(name)
    header = parse(data)
    assert header.transfer_syntax_uid == transfer_syntax
    assert header.sop_instance_uid and header.study_instance_uid and header.rows


def test_jpeg_lossless_header_parses():
    from pydicom.encaps import encapsulate

    ds = make_dataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.70"
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xc3" + b"\0" * 60 + b"\xff\xd9"])
    ds["PixelData"].VR = "OB"
    assert parse(to_bytes(ds)).transfer_syntax_uid == "1.2.840.10008.1.2.4.70"


def sample_with_uids(name: str) -> bytes:
    """A pydicom sample file; the few that lack Study/Series UIDs get them (pixels untouched)."""
    ds = pydicom.dcmread(get_testdata_file(name))
    if "StudyInstanceUID" not in ds or "SeriesInstanceUID" not in ds:
        ds.StudyInstanceUID = ds.get("StudyInstanceUID") or generate_uid()
        ds.SeriesInstanceUID = ds.get("SeriesInstanceUID") or generate_uid()
        return to_bytes(ds)
    with open(get_testdata_file(name), "rb") as fp:
        return fp.read()


def test_real_world_file_without_study_uid_is_refused_by_name():
    with open(get_testdata_file("JPEGLSNearLossless_08.dcm"), "rb") as fp:
        assert reason(fp.read()) == "missing_uid"


def _with_raw_name(raw: bytes, charset: str | None) -> bytes:
    ds = make_dataset(patient_name="X")
    if charset is not None:
        ds.SpecificCharacterSet = charset
    data = to_bytes(ds)
    old = b"X "  # PN padded to even length
    marker = struct.pack("<HH", 0x0010, 0x0010) + b"PN" + struct.pack("<H", len(old)) + old
    raw_even = raw + (b" " if len(raw) % 2 else b"")
    new = struct.pack("<HH", 0x0010, 0x0010) + b"PN" + struct.pack("<H", len(raw_even)) + raw_even
    assert marker in data
    return data.replace(marker, new)


@pytest.mark.parametrize(
    ("raw", "charset"),
    [
        ("王^小明=王^小明".encode("gb18030"), "GB18030"),
        ("王^小明=王^小明".encode("gbk"), "GBK"),
        ("王^小明=王^小明".encode(), "ISO_IR 192"),
        ("王^小明=王^小明".encode(), None),  # missing: UTF-8 guessed
        ("王^小明=王^小明".encode("gb18030"), None),  # missing: GB18030 guessed
        ("王^小明=王^小明".encode("gbk"), "ISO_IR 100"),  # declared wrongly as Latin-1
    ],
)
def test_chinese_names_decode_with_declared_missing_or_wrong_charset(raw, charset):
    header = parse(_with_raw_name(raw, charset))
    assert header.patient_name == "王^小明=王^小明"


def test_decode_text_keeps_latin1_when_nothing_else_fits():
    assert decode_text("Müller".encode("latin-1"), ["ISO_IR 100"]) == "Müller"


def test_not_dicom_is_refused():
    assert reason(b"hello, this is a text file" * 10) == "not_dicom"


def test_truncated_file_is_refused():
    data = make_file(rows=64, columns=64)
    assert reason(data[:400]) in {"truncated", "bad_length", "malformed"}


def test_pydicoms_truncated_sample_is_refused():
    with open(get_testdata_file("MR_truncated.dcm"), "rb") as fp:
        data = fp.read()
    assert reason(data) in {"truncated", "bad_length"}


@pytest.mark.parametrize(
    ("keyword", "code"),
    [
        ("SOPInstanceUID", "missing_uid"),
        ("StudyInstanceUID", "missing_uid"),
        ("SOPClassUID", "missing_uid"),
    ],
)
def test_missing_uids_are_refused(keyword, code):
    ds = make_dataset()
    delattr(ds, keyword)
    assert reason(to_bytes(ds)) == code


@pytest.mark.parametrize("bad", ["1.2.abc", "1.2.3/../4", "1." * 40])
def test_uid_outside_the_dicom_alphabet_is_refused(bad):
    ds = make_dataset()
    ds.SOPInstanceUID = bad
    assert reason(to_bytes(ds)) == "bad_uid"


def test_declared_length_beyond_the_file_is_refused():
    data = bytearray(make_file(rows=16, columns=16))
    at = data.find(struct.pack("<HH", 0x0008, 0x1030))  # Study Description, explicit LO
    data[at + 6 : at + 8] = struct.pack("<H", 0xFFF0)
    assert reason(bytes(data)) in {"bad_length", "truncated", "malformed"}


def test_pixel_data_length_beyond_the_file_is_refused():
    data = bytearray(make_file(rows=16, columns=16))
    at = data.rfind(struct.pack("<HH", 0x7FE0, 0x0010))
    data[at + 8 : at + 12] = struct.pack("<L", 0x7FFFFFF0)
    assert reason(bytes(data)) == "bad_length"


def _nested(depth: int) -> Dataset:
    ds = make_dataset()
    inner = ds
    for _ in range(depth):
        item = Dataset()
        item.CodeValue = "1"
        inner.ReferencedImageSequence = Sequence([item])
        inner = item
    return ds


def test_sequences_nested_beyond_the_cap_are_refused():
    assert reason(to_bytes(_nested(20))) == "too_deep"


def test_hostile_deep_nesting_is_refused_quickly():
    """10 000 undefined-length sequences inside each other, written by hand."""
    ds = make_dataset()
    del ds.PixelData
    opening = struct.pack("<HH", 0x0040, 0xA730) + b"SQ\0\0" + struct.pack("<L", 0xFFFFFFFF)
    item = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    depth = 10_000
    data = to_bytes(ds) + (opening + item) * depth + closing * depth
    started = time.monotonic()
    assert reason(data) == "too_deep"
    assert time.monotonic() - started < 5


def test_nesting_within_the_cap_is_accepted():
    assert parse(to_bytes(_nested(5))).sop_instance_uid


def test_pixels_over_the_cap_are_refused():
    ds = make_dataset(rows=8, columns=8)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 10  # header lies, pixels tiny
    ds.PixelData = b"\0" * 128
    assert reason(to_bytes(ds)) == "pixels_too_large"


def test_file_over_the_size_cap_is_refused():
    data = make_file(rows=64, columns=64)
    small = Limits(**{**LIMITS.__dict__, "max_file_bytes": 1000})
    assert reason(data, small) == "too_large"


def test_huge_private_value_is_skipped_not_read():
    ds = make_dataset()
    ds.add_new(0x00111010, "OB", b"\1" * (4 * 1024**2))
    header = parse(to_bytes(ds))
    assert header.patient_id == "C000123"


def test_a_header_of_millions_of_tiny_elements_is_refused_within_its_budget():
    ds = make_dataset()
    data = bytearray(to_bytes(ds))
    # 400 000 private 2-byte elements (0009,xxxx) inserted before Study Description.
    tiny = b"".join(
        struct.pack("<HH", 0x0009, 0x1000 + (n % 0xEFFF)) + b"SH" + struct.pack("<H", 2) + b"ab"
        for n in range(400_000)
    )
    at = data.find(struct.pack("<HH", 0x0008, 0x1030))
    data[at:at] = tiny
    small = Limits(**{**LIMITS.__dict__, "max_header_bytes": 1024 * 1024})
    started = time.monotonic()
    assert reason(bytes(data), small) == "header_too_large"
    assert time.monotonic() - started < 5


def deflate_bomb() -> bytes:
    import zlib

    def meta_end(data: bytes) -> int:  # after (0002,0000) UL group length and the group
        return 132 + 12 + struct.unpack("<L", data[140:144])[0]

    plain = to_bytes(make_dataset())
    ds = make_dataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1.99"
    deflated = to_bytes(ds)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = plain[meta_end(plain) :] + b"\0" * (40 * 1024**2)
    return deflated[: meta_end(deflated)] + compressor.compress(body) + compressor.flush()


def test_a_deflate_bomb_is_refused_without_inflating_it_in_memory():
    bomb = deflate_bomb()
    assert len(bomb) < 200_000
    small = Limits(**{**LIMITS.__dict__, "max_header_bytes": 1024 * 1024})
    assert reason(bomb, small) == "too_large"


@pytest.mark.parametrize("declared", [0, 10])
def test_a_deflate_bomb_whose_meta_group_length_lies_is_still_refused(declared):
    # The quick look for the deflated syntax trusts the declared meta length only when the
    # group really ends there; either way the 40 MB are never inflated, and the file is refused.
    bomb = bytearray(deflate_bomb())
    bomb[140:144] = struct.pack("<L", declared)
    small = Limits(**{**LIMITS.__dict__, "max_header_bytes": 1024 * 1024})
    assert reason(bytes(bomb), small) in {"too_large", "header_too_large"}
