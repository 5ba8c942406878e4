"""Ingest costs that must not grow: queries per STOW request, counts under concurrent senders,
and the render caches queued once per series yet built for every instance (real worker)."""

import io
import threading
import uuid

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.processes import (
    celery_worker,
    free_port,
    port_open,
    redis_server,
    subprocess_env,
    uvicorn_server,
    wait_for,
)
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from tests.viewer.dicom_data import ct_slice
from viewer.ingest.services import (
    Outcome,
    Sender,
    ingest_flush,
    instance_ingest,
)
from viewer.models import Instance, RenderInfo, Series, Source, Study


def stow_body(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + f + b"\r\n"
        for f in files
    ]
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def stow_queries(client, token: str, files: list[bytes]) -> int:
    body, ctype = stow_body(files)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/dicomweb/studies",
            data=body,
            content_type=ctype,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.django_db
def test_a_stow_request_of_twenty_instances_costs_the_queries_of_one_of_two(
    client, county_token, child
):
    study, series = make_dataset().StudyInstanceUID, "1.2.826.0.1.77"

    def files(count: int) -> list[bytes]:
        return [make_file(study_uid=study, series_uid=series) for _ in range(count)]

    stow_queries(client, county_token, files(1))  # the study and series now exist
    two = stow_queries(client, county_token, files(2))
    twenty = stow_queries(client, county_token, files(20))
    assert twenty == two
    row = Study.objects.get(study_instance_uid=study)
    assert (row.number_of_instances, row.number_of_series, row.patient) == (23, 1, child)


@pytest.mark.django_db
def test_a_resent_study_with_new_instances_is_still_indexed_in_batches(client, county_token):
    study = make_dataset().StudyInstanceUID
    sent = [make_file(study_uid=study, series_uid="1.2.826.0.1.78") for _ in range(55)]
    new = [make_file(study_uid=study, series_uid="1.2.826.0.1.78") for _ in range(5)]
    stow_queries(client, county_token, sent)
    body, ctype = stow_body(sent + new)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/dicomweb/studies",
            data=body,
            content_type=ctype,
            headers={"Authorization": f"Bearer {county_token}"},
        )
    assert response.status_code == 200
    referenced = [i["00081155"]["Value"][0] for i in response.json()["00081199"]["Value"]]
    assert len(referenced) == 60
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "viewer_instance"')]
    assert len(inserts) == 2  # one per batch of 50, not one per part once duplicates fill one
    assert Study.objects.get(study_instance_uid=study).number_of_instances == 60


@pytest.mark.django_db(transaction=True)
def test_counts_add_up_when_senders_fill_one_study_at_the_same_time(county_hospital):
    study = make_dataset().StudyInstanceUID
    series = ["1.2.826.0.1.81", "1.2.826.0.1.82"]
    shared = make_file(study_uid=study, series_uid=series[0])  # sent by every sender
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            sender = Sender(hospital=county_hospital, source=Source.STOW, defer_index=True)
            files = [shared] + [
                make_file(study_uid=study, series_uid=series[(n + k) % 2]) for k in range(10)
            ]
            for data in files:
                instance_ingest(
                    fp=io.BytesIO(data), name="part", size=len(data), sender=sender, flush=False
                )
            ingest_flush(sender=sender)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    row = Study.objects.get(study_instance_uid=study)
    assert row.number_of_instances == Instance.objects.count() == 4 * 10 + 1
    assert row.number_of_series == 2
    for s in Series.objects.all():
        assert s.number_of_instances == s.instances.count()


@pytest.mark.django_db
def test_a_batch_sending_one_uid_twice_counts_it_once_and_reports_the_second(county_hospital):
    sender = Sender(hospital=county_hospital, source=Source.STOW, defer_index=True)
    ds = make_dataset()
    results = [
        instance_ingest(fp=io.BytesIO(data), name=name, size=len(data), sender=sender, flush=False)
        for name, data in (("a", to_bytes(ds)), ("b", to_bytes(ds)))
    ]
    ingest_flush(sender=sender)
    assert [r.status for r in results] == [Outcome.ACCEPTED, Outcome.ALREADY_STORED]
    assert results[0].instance_id == results[1].instance_id
    assert Study.objects.get().number_of_instances == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_render_caches_are_queued_once_per_series_and_built_for_every_instance(
    tmp_path, settings, county_token
):
    """Three STOW requests into one series within the debounce window: one task, run by a
    real worker, renders every instance of the series (not only the first request's)."""
    redis_port, web_port = free_port(), free_port()
    procs = [redis_server(redis_port, tmp_path).start()]
    try:
        wait_for(lambda: port_open(redis_port), 10, message="private Redis")
        env = subprocess_env(
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            IMAGING_RENDER_DEBOUNCE_SECONDS="8",
        )
        procs.append(uvicorn_server(web_port, env, tmp_path).start())
        worker = celery_worker("render", env, tmp_path, concurrency=1).start()
        procs.append(worker)
        wait_for(lambda: port_open(web_port), 30, message="uvicorn")
        study, series = make_dataset().StudyInstanceUID, "1.2.826.0.1.91"
        for request in range(3):
            files = [to_bytes(ct_slice(study, series, request * 2 + k, size=32)) for k in range(2)]
            body, ctype = stow_body(files)
            response = requests.post(
                f"http://127.0.0.1:{web_port}/dicomweb/studies",
                data=body,
                headers={"Content-Type": ctype, "Authorization": f"Bearer {county_token}"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
        ids = set(
            Instance.objects.filter(series__series_instance_uid=series).values_list("pk", flat=True)
        )
        assert len(ids) == 6
        wait_for(
            lambda: (
                RenderInfo.objects.filter(instance__in=ids, cached_at__isnull=False).count() == 6
            ),
            120,
            message=lambda: "render caches for all six instances\n" + worker.output()[-3000:],
        )
        log = worker.output().splitlines()
        received = [
            line for line in log if "build_series_render_caches[" in line and "received" in line
        ]
        assert len(received) == 1, "\n".join(log[-40:])
    finally:
        for proc in reversed(procs):
            proc.stop()
