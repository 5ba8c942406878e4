"""The viewer page and its manifest: header facts, series, priors, access, query count."""

import datetime as dt
import json

import pytest

from core.models import AuditEvent
from tests.factories import SeriesFactory, StudyFactory, WeightFactory, store_dataset
from tests.viewer.dicom_data import ct_slice
from viewer.manifest import expand

pytestmark = pytest.mark.django_db


def manifest_of(response):
    html = response.content.decode()
    start = html.index('<script id="viewer-manifest" type="application/json">') + len(
        '<script id="viewer-manifest" type="application/json">'
    )
    return expand(json.loads(html[start : html.index("</script>", start)]))


def test_page_shows_the_child_and_the_study(login, county_doctor, ct_study, settings):
    settings.LANGUAGE_CODE = "en"
    WeightFactory(patient=ct_study.patient, weight_kg="11.20", measured_on=dt.date(2026, 11, 1))
    WeightFactory(patient=ct_study.patient, weight_kg="13.00", measured_on=dt.date(2026, 12, 1))
    client = login(county_doctor)
    client.cookies["django_language"] = "en"
    response = client.get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "李小明" in html
    assert "2 years 8 months" in html  # born 2024-03-15, scanned 2026-11-20
    assert "11.20 kg" in html  # the weight before the exam, not the later one
    assert "Yongjia County Hospital" in html
    assert "CT ABDOMEN" in html
    manifest = manifest_of(response)
    series = manifest["series"][0]
    assert len(series["instances"]) == 5
    assert series["instances"][0]["info"]["pixel_spacing"] == [0.5, 0.5]
    assert series["instances"][0]["info"]["local_window"] is True


def test_opening_the_page_writes_one_view_row(login, county_doctor, ct_study):
    login(county_doctor).get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    row = AuditEvent.objects.get(user=county_doctor, action="view", object_type="study")
    assert row.patient == ct_study.patient
    assert row.object_id == str(ct_study.pk)


def test_outsider_gets_404_and_a_denied_row(login, outsider, ct_study):
    response = login(outsider).get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied", object_type="study").exists()
    response = login(outsider).get(f"/viewer/studies/{ct_study.study_instance_uid}/manifest.json")
    assert response.status_code == 404


def test_anonymous_is_sent_to_login(client, ct_study):
    response = client.get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_priors_of_the_same_child_are_offered(login, county_doctor, ct_study):
    prior = StudyFactory(patient=ct_study.patient, study_date=dt.date(2025, 6, 1))
    StudyFactory()  # another child's study: never offered
    response = login(county_doctor).get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    assert response.context["priors"] == [
        {
            "uid": prior.study_instance_uid,
            "date": response.context["priors"][0]["date"],
            "modality": "CT",
            "description": "CT ABDOMEN",
        }
    ]


def test_page_query_count_does_not_grow_with_slices(
    login, county_doctor, ct_study, django_assert_max_num_queries
):
    client = login(county_doctor)
    url = f"/viewer/studies/{ct_study.study_instance_uid}/"
    client.get(url)  # first view reads the headers once into RenderInfo
    series = ct_study.series.first()
    for i in range(5, 25):
        store_dataset(ct_slice(ct_study.study_instance_uid, series.series_instance_uid, i), series)
    client.get(url)
    with django_assert_max_num_queries(16):
        response = client.get(url)
    assert len(manifest_of(response)["series"][0]["instances"]) == 25


def test_empty_series_and_unreadable_file_are_listed_with_reasons(login, county_doctor, child):
    from django.core.files.storage import default_storage

    study = StudyFactory(patient=child)
    SeriesFactory(study=study, description="EMPTY")
    series = SeriesFactory(study=study)
    inst = store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, 0), series)
    default_storage.delete(inst.storage_key)
    response = login(county_doctor).get(f"/viewer/studies/{study.study_instance_uid}/")
    manifest = manifest_of(response)
    assert manifest["series"][0]["instances"] == []
    assert "No images in this series" in response.content.decode() or "此序列没有图像" in (
        response.content.decode()
    )
    assert manifest["series"][1]["instances"][0]["problem"] == "The stored file is missing."


def test_modality16_frame_gives_lossless_values_and_how_to_read_them(
    login, county_doctor, ct_study
):
    import io

    import numpy as np
    from PIL import Image

    series = ct_study.series.first()
    inst = series.instances.order_by("instance_number")[2]
    url = (
        f"/viewer/studies/{ct_study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/frames/1/modality.png"
    )
    response = login(county_doctor).get(url)
    assert response.status_code == 200
    values = np.asarray(Image.open(io.BytesIO(response.content))).astype(int)
    offset = int(response["X-Pixel-Offset"])
    intercept = float(response["X-Rescale-Intercept"])
    assert values[32, 32] - offset + intercept == 40 + 2 * 10  # disc of slice 3
    assert login(county_doctor).get(url.replace("/1/", "/2/")).status_code == 400


def test_raw_16bit_frame_is_gzipped_lossless_values_with_its_size(login, county_doctor, ct_study):
    import gzip

    import numpy as np

    series = ct_study.series.first()
    inst = series.instances.order_by("instance_number")[2]
    url = (
        f"/viewer/studies/{ct_study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/frames/1/modality.u16"
    )
    client = login(county_doctor)
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    rows, columns = int(response["X-Rows"]), int(response["X-Columns"])
    values = np.frombuffer(gzip.decompress(response.content), "<u2").reshape(rows, columns)
    offset = int(response["X-Pixel-Offset"])
    intercept = float(response["X-Rescale-Intercept"])
    assert int(values[32, 32]) - offset + intercept == 40 + 2 * 10  # disc of slice 3
    plain = client.get(url)  # a client that does not take gzip gets the bytes as they are
    assert "Content-Encoding" not in plain
    assert plain.content == values.tobytes()
    assert client.get(url.replace("/1/", "/2/")).status_code == 400


def test_modality16_refused_to_outsider(login, outsider, ct_study):
    series = ct_study.series.first()
    inst = series.instances.first()
    url = (
        f"/viewer/studies/{ct_study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/frames/1/modality.png"
    )
    assert login(outsider).get(url).status_code == 404
    assert login(outsider).get(url.replace(".png", ".u16")).status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied").count() == 2


def batch_url(study, frames, kind="m16"):
    series = study.series.first()
    return (
        f"/viewer/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/frames?kind={kind}&frames={frames}"
    )


def parse_batch(body):
    length = int.from_bytes(body[:4], "big")
    index = json.loads(body[4 : 4 + length])
    pos, parts = 4 + length, []
    for entry in index:
        parts.append(body[pos : pos + entry["length"]])
        pos += entry["length"]
    return index, parts


def test_batch_returns_many_frames_in_one_response(login, county_doctor, ct_study):
    import io

    import numpy as np
    from PIL import Image

    instances = list(ct_study.series.first().instances.order_by("instance_number"))
    frames = ",".join(f"{i.sop_instance_uid}:1" for i in instances)
    response = login(county_doctor).get(batch_url(ct_study, frames))
    assert response.status_code == 200
    index, parts = parse_batch(response.content)
    assert [e["uid"] for e in index] == [i.sop_instance_uid for i in instances]
    for k, (entry, data) in enumerate(zip(index, parts, strict=True)):
        values = np.asarray(Image.open(io.BytesIO(data))).astype(int)
        assert values[32, 32] - entry["offset"] + entry["intercept"] == 40 + 10 * k
    jpeg = login(county_doctor).get(batch_url(ct_study, frames, "jpeg") + "&window=40,400")
    _index, jparts = parse_batch(jpeg.content)
    assert all(p.startswith(b"\xff\xd8") for p in jparts)


def test_batch_reports_missing_frames_and_refuses_bad_input(login, county_doctor, ct_study):
    inst = ct_study.series.first().instances.first()
    client = login(county_doctor)
    index, _ = parse_batch(client.get(batch_url(ct_study, f"{inst.sop_instance_uid}:9")).content)
    assert index[0]["problem"] == "There is no such frame."
    assert client.get(batch_url(ct_study, "nonsense")).status_code == 400
    assert client.get(batch_url(ct_study, f"{inst.sop_instance_uid}:1", "gif")).status_code == 400
    many = ",".join([f"{inst.sop_instance_uid}:1"] * 33)
    assert client.get(batch_url(ct_study, many)).status_code == 400


def test_batch_refused_to_outsider(login, outsider, ct_study):
    inst = ct_study.series.first().instances.first()
    response = login(outsider).get(batch_url(ct_study, f"{inst.sop_instance_uid}:1"))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied", object_type="series").exists()


def test_u16_batch_holds_each_frame_exactly_as_modality_u16_sends_it(
    login, county_doctor, ct_study
):
    import gzip

    import numpy as np

    series = ct_study.series.first()
    instances = list(series.instances.order_by("instance_number"))
    client = login(county_doctor)
    frames = ",".join(f"{i.sop_instance_uid}:1" for i in instances)
    response = client.get(batch_url(ct_study, frames, "u16"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert not response.has_header("Content-Encoding")  # the page inflates each part
    index, parts = parse_batch(response.content)
    assert [e["uid"] for e in index] == [i.sop_instance_uid for i in instances]
    for k, (inst, entry, data) in enumerate(zip(instances, index, parts, strict=True)):
        one = client.get(
            f"/viewer/studies/{ct_study.study_instance_uid}/series/{series.series_instance_uid}"
            f"/instances/{inst.sop_instance_uid}/frames/1/modality.u16",
            HTTP_ACCEPT_ENCODING="gzip",
        )
        assert one["Content-Encoding"] == "gzip"
        assert data == one.content  # the same cached gzip member, byte for byte
        assert entry["rows"] == int(one["X-Rows"]) and entry["columns"] == int(one["X-Columns"])
        assert entry["offset"] == int(one["X-Pixel-Offset"])
        values = np.frombuffer(gzip.decompress(data), "<u2").reshape(entry["rows"], -1)
        assert int(values[32, 32]) - entry["offset"] + entry["intercept"] == 40 + 10 * k


def test_u16_batch_of_a_missing_frame_says_so_without_bytes(login, county_doctor, ct_study):
    inst = ct_study.series.first().instances.first()
    response = login(county_doctor).get(batch_url(ct_study, f"{inst.sop_instance_uid}:9", "u16"))
    index, parts = parse_batch(response.content)
    assert index[0]["problem"] == "There is no such frame."
    assert parts == [b""]


def test_u16_batch_refused_to_outsider_with_a_denied_row(login, outsider, ct_study):
    inst = ct_study.series.first().instances.first()
    response = login(outsider).get(batch_url(ct_study, f"{inst.sop_instance_uid}:1", "u16"))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied", object_type="series").exists()


def test_page_carries_the_script_translations_inline_in_the_users_language(
    login, county_doctor, ct_study
):
    """No separate /jsi18n/ request for the viewer's scripts to wait on."""
    client = login(county_doctor)
    url = f"/viewer/studies/{ct_study.study_instance_uid}/"
    html = client.get(url).content.decode()
    assert 'src="/jsi18n/"' not in html
    loading = json.dumps("加载中…")[1:-1]  # "Loading…" as the catalog spells it
    assert loading in html
    client.cookies["django_language"] = "en"
    english = client.get(url).content.decode()
    assert loading not in english
    assert english.count("</script>") == english.count("<script")  # nothing ends it early


def raw_manifest_of(response):
    html = response.content.decode()
    tag = '<script id="viewer-manifest" type="application/json">'
    start = html.index(tag) + len(tag)
    return json.loads(html[start : html.index("</script>", start)])


def test_page_writes_what_the_slices_share_once(login, county_doctor, ct_study):
    from viewer.manifest import study_manifest

    response = login(county_doctor).get(f"/viewer/studies/{ct_study.study_instance_uid}/")
    raw = raw_manifest_of(response)
    series = raw["series"][0]
    assert series["shared"]["info"]["pixel_spacing"] == [0.5, 0.5]
    assert series["shared"]["rows"] == 64
    assert all("pixel_spacing" not in i["info"] and "rows" not in i for i in series["instances"])
    # Each slice keeps what is its own: UID, number and position.
    positions = [i["info"]["position"] for i in series["instances"]]
    assert len({tuple(p) for p in positions}) == 5
    # The page adds its signed grant for the study's cached frames (viewer.rendering.links).
    assert raw.pop("frames").startswith("/frames/")
    assert expand(raw) == json.loads(json.dumps(study_manifest(ct_study, county_doctor)))


def test_an_unreadable_slice_does_not_borrow_its_neighbours_facts(login, county_doctor, child):
    from django.core.files.storage import default_storage

    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    slices = [
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
        for i in range(3)
    ]
    default_storage.delete(slices[1].storage_key)
    response = login(county_doctor).get(f"/viewer/studies/{study.study_instance_uid}/")
    instances = manifest_of(response)["series"][0]["instances"]
    assert instances[1]["problem"] == "The stored file is missing."
    assert "pixel_spacing" not in instances[1]["info"]
    assert instances[0]["info"]["pixel_spacing"] == instances[2]["info"]["pixel_spacing"]
