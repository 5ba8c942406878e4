"""The pure renderer against pydicom's own test files and a reference windowing written here."""

import io
import warnings

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.rendering import render
from viewer.rendering.render import RenderError, RenderOptions, Window

# Every file in pydicom/data/test_files whose transfer syntax a plugin here decodes.
GREY_FILES = [
    "CT_small.dcm",  # explicit little endian, signed 16-bit, rescale
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "693_J2KI.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_16.dcm",
    "image_dfl.dcm",  # deflated
    "rtdose.dcm",  # multi-frame 32-bit
]
COLOUR_FILES = [
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless
    "SC_rgb_rle.dcm",
    "SC_rgb_rle_16bit.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",  # YBR_FULL baseline
    "SC_ybr_full_422_uncompressed.dcm",
    "SC_rgb_gdcm_KY.dcm",
    "examples_jpeg2k.dcm",  # YBR_RCT
    "ExplVR_BigEnd.dcm",
    "examples_rgb_color.dcm",
]


def load(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name))


def reference_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 written out element by element, independent of
    viewer.rendering.render."""
    lower = center - 0.5 - (width - 1) / 2
    upper = center - 0.5 + (width - 1) / 2
    out = np.empty(values.shape, dtype=np.float64)
    below, above = values <= lower, values > upper
    middle = ~(below | above)
    out[below], out[above] = 0, 255
    out[middle] = ((values[middle] - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.rint(out)


def reference_modality(ds: Dataset, frame: int = 0) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        arr = arr[frame]
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return arr.astype(np.float64) * slope + intercept


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("name", GREY_FILES)
def test_grey_frame_matches_pixel_array_windowed_by_reference(name):
    ds = load(name)
    values = reference_modality(ds)
    if "WindowCenter" in ds and "WindowWidth" in ds and "VOILUTSequence" not in ds:
        wc, ww = ds.WindowCenter, ds.WindowWidth
        center = float(wc[0] if isinstance(wc, pydicom.multival.MultiValue) else wc)
        width = float(ww[0] if isinstance(ww, pydicom.multival.MultiValue) else ww)
    elif int(ds.BitsStored) <= 8 and ds.PixelRepresentation == 0 and "RescaleSlope" not in ds:
        center, width = 128, 256  # 8-bit data without a window is shown as stored
    else:
        lo, hi = values.min(), values.max()
        center, width = (lo + hi) / 2 + 0.5, max(hi - lo + 1, 1)
    expected = reference_window(values, center, width)

    png = render.render_frame(ds, RenderOptions(media_type="image/png"))
    got = decode_png(png).astype(np.float64)

    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1


def test_request_window_overrides_file_window():
    ds = load("CT_small.dcm")
    expected = reference_window(reference_modality(ds), -600, 1500)
    png = render.render_frame(ds, RenderOptions(window=Window(-600, 1500), media_type="image/png"))
    assert np.abs(decode_png(png) - expected).max() <= 1


def test_monochrome1_is_inverted():
    ds = load("CT_small.dcm")
    normal = decode_png(render.render_frame(ds, RenderOptions(media_type="image/png")))
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = decode_png(render.render_frame(ds, RenderOptions(media_type="image/png")))
    assert np.array_equal(inverted.astype(int), 255 - normal.astype(int))


def test_voi_lut_sequence_is_applied():
    ds = load("CT_small.dcm")
    item = Dataset()
    item.LUTDescriptor = [256, 0, 8]  # 256 entries, first maps stored value 0, 8-bit output
    item.LUTData = list(range(255, -1, -1))  # an inverting ramp makes its use visible
    ds.VOILUTSequence = [item]
    got = decode_png(render.render_frame(ds, RenderOptions(media_type="image/png")))
    stored = ds.pixel_array
    # No modality LUT sequence: the VOI LUT indexes the rescaled values, clamped to the table.
    values = np.clip(reference_modality(ds), 0, 255).astype(int)
    assert np.array_equal(got.astype(int), 255 - values)
    assert stored.shape == got.shape


@pytest.mark.parametrize("name", COLOUR_FILES)
def test_colour_frame_matches_pixel_array_in_rgb(name):
    ds = load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ds.pixel_array.astype(np.int64)
    if expected.ndim == 4:
        expected = expected[0]
    bits = int(ds.BitsStored)
    expected = expected >> max(0, bits - 8)
    got = decode_png(render.render_frame(ds, RenderOptions(media_type="image/png")))
    assert got.shape == expected.shape
    assert np.abs(got.astype(np.int64) - expected).max() <= 1


def test_palette_colour_is_expanded_through_its_lut():
    ds = load("examples_palette.dcm")
    indices = ds.pixel_array
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2")
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    expected_red = red[np.clip(indices.astype(int) - first, 0, len(red) - 1)] >> 8
    got = decode_png(render.render_frame(ds, RenderOptions(media_type="image/png")))
    assert got.shape == (*indices.shape, 3)
    assert np.abs(got[..., 0].astype(int) - expected_red.astype(int)).max() <= 1


def test_multi_frame_selects_the_requested_frame():
    ds = load("examples_ybr_color.dcm")  # 30 frames of ultrasound-like YBR JPEG
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = ds.pixel_array
    got = decode_png(render.render_frame(ds, RenderOptions(frame=17, media_type="image/png")))
    assert np.abs(got.astype(int) - frames[17].astype(int)).max() <= 1
    assert np.abs(got.astype(int) - frames[0].astype(int)).max() > 1


def test_frame_out_of_range_is_a_reason_not_a_crash():
    with pytest.raises(RenderError, match="no such frame"):
        render.render_frame(load("CT_small.dcm"), RenderOptions(frame=3))


def test_viewport_fits_inside_keeping_aspect_and_never_enlarges():
    ds = load("JPEG2000.dcm")  # 1024 rows × 256 columns
    thumb = Image.open(io.BytesIO(render.render_frame(ds, RenderOptions(viewport=(128, 128)))))
    assert thumb.size == (32, 128)
    small = Image.open(io.BytesIO(render.render_frame(ds, RenderOptions(viewport=(4000, 4000)))))
    assert small.size == (256, 1024)


@pytest.mark.parametrize(
    ("media_type", "pil_format"),
    [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP")],
)
def test_encodes_each_accepted_media_type(media_type, pil_format):
    data = render.render_frame(load("MR_small.dcm"), RenderOptions(media_type=media_type))
    assert Image.open(io.BytesIO(data)).format == pil_format


def test_jpeg_quality_changes_size():
    ds = load("CT_small.dcm")
    low = render.render_frame(ds, RenderOptions(quality=20))
    high = render.render_frame(ds, RenderOptions(quality=95))
    assert len(low) < len(high)


def test_modality_png16_is_lossless_stored_values():
    ds = load("CT_small.dcm")
    form = render.render_modality_png16(ds)
    png = decode_png(form.data).astype(np.int64)
    assert form.offset == 32768
    assert np.array_equal(png - form.offset, ds.pixel_array.astype(np.int64))
    modality = (png - form.offset) * form.slope + form.intercept
    assert np.allclose(modality, reference_modality(ds))


def test_modality_png16_refuses_colour():
    with pytest.raises(RenderError):
        render.render_modality_png16(load("SC_rgb_rle.dcm"))


def test_truncated_pixel_data_raises_a_reason():
    with pytest.raises(RenderError, match="damaged"):
        render.render_frame(load("MR_truncated.dcm"), RenderOptions())


def test_unsupported_transfer_syntax_names_it():
    ds = load("MR_small.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder here
    with pytest.raises(RenderError, match="MPEG2"):
        render.render_frame(ds, RenderOptions())


def test_file_without_pixels_raises_a_reason():
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = generate_uid()
    with pytest.raises(RenderError, match="no image"):
        render.render_frame(ds, RenderOptions())


def test_placeholder_is_an_image_of_the_requested_size():
    data = render.placeholder_image("corrupt", (100, 50), "image/jpeg")
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (50, 50)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100,200", Window(100, 200)),
        ("-600,1500,linear", Window(-600, 1500)),
        ("40,80,SIGMOID", Window(40, 80, "SIGMOID")),
    ],
)
def test_window_parameter_parses(text, expected):
    assert Window.parse(text) == expected


@pytest.mark.parametrize("text", ["", "40", "40,0", "a,b", "40,80,cubic", "nan,80", "1,2,3,4"])
def test_bad_window_parameter_is_refused(text):
    with pytest.raises(ValueError):
        Window.parse(text)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "image/jpeg"),
        ("*/*", "image/jpeg"),
        ("image/png", "image/png"),
        ("image/webp,image/jpeg;q=0.5", "image/webp"),
        ("image/png;q=0.2, image/jpeg", "image/jpeg"),
        ("image/gif", None),
        ("application/dicom", None),
    ],
)
def test_accept_negotiation(accept, expected):
    assert render.negotiate(accept) == expected


def test_display_info_reads_geometry_and_timing():
    info = render.display_info(load("examples_ybr_color.dcm"))
    assert info["frames"] == 30
    assert info["local_window"] is False  # colour is windowed on the server
    ct = render.display_info(load("CT_small.dcm"))
    assert ct["pixel_spacing"] == [0.661468, 0.661468]
    assert ct["local_window"] is True
    assert ct["signed"] is True
    assert len(ct["orientation"]) == 6
