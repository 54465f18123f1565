"""An ended build's log and conda lock move to the object store (builds/archive.py), and every reader
gives the same answers before and after; a SIF is stored before its push. On the stack's real store;
"down" is a store URL nothing answers (tests/storage/test_store_down.py), for this test's settings only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import django_rq
import httpx
import pytest
from django.test import Client
from django.utils import timezone

from builds import archive
from builds.archive import archive_build, archive_ended_builds, key
from builds.jobs import fail_build
from builds.reconcile import reap_stale_builds
from builds.logs import appended
from builds.models import Build
from tests.support.builds import pull_sif
from tests.support.factories import BuildFactory, UserFactory
from tests.support.helpers import REGISTRY, b64, completed, registry_auth, wait_until
from tests.support.servers import start_server, start_worker, stop_server
from tests.support.stores import closed_store
from wave_site.storage import Unreachable, store

LOG = "Building localhost/x:abc (linux/amd64)\nÉtape 1/2 : ✓ ünïcødé\n\ttabbed line\nBuild failed: no\n"
LOCK = "# This file may be used to create an environment using:\n@EXPLICIT\nhttps://conda.example/noarch/a-1.0-0.tar.bz2#0123\n"
LOCK_YAML = "version: 1\npackage:\n- name: a\n  version: '1.0'\n"


def ended_build(**fields) -> Build:
    now = timezone.now()
    values = {"status": Build.Status.FAILED, "started_at": now, "finished_at": now, "log": LOG, **fields}
    return BuildFactory(**values)


def conda_build() -> Build:
    return ended_build(conda_file="dependencies: [a]\n", condalock=LOCK, condalock_yaml=LOCK_YAML, status=Build.Status.SUCCEEDED)


def bodies(client, build_id: str) -> list[tuple[int, str, bytes]]:
    paths = ["logs", "condalock", "condalock?format=yaml", "condalock?format=toml"]
    answers = [client.get(f"/v1alpha1/builds/{build_id}/{path}") for path in paths]
    return [(a.status_code, a["Content-Type"], a.content) for a in answers]


def downloads(build_id: str) -> list[tuple[int, bytes]]:
    """The build page's downloads, as its owner's operator reads them."""
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    answers = [staff.get(f"/view/builds/{build_id}/files/{name}") for name in ("build.log", "conda.lock", "conda-lock.yml")]
    return [(a.status_code, a.content) for a in answers]


def followed(answer: dict) -> dict:
    """A follower's answer without the build's final state (tests/pages/test_build_page.py checks that)."""
    return {k: answer[k] for k in ("text", "offset", "status", "completed")}


def stored(build_id: str, name: str) -> bytes | None:
    if store().size(key(build_id, name)) is None:
        return None
    return store().read_bytes(key(build_id, name))


@pytest.mark.django_db
def test_an_ended_build_is_archived_and_the_api_answers_byte_for_byte_the_same(client):
    build = conda_build()
    expected = [
        (200, "text/plain; charset=utf-8", LOG.encode()),
        (200, "text/plain; charset=utf-8", LOCK.encode()),
        (200, "text/plain; charset=utf-8", LOCK_YAML.encode()),
        (400, "application/json", b'{"message":"Unknown lock format \'toml\'; use \'explicit\' or \'yaml\'"}'),
    ]
    assert bodies(client, build.id) == expected
    files = [(200, LOG.encode()), (200, LOCK.encode()), (200, LOCK_YAML.encode())]
    assert downloads(build.id) == files
    assert archive_build(build.id) is True
    row = Build.objects.get(pk=build.id)
    assert (row.log, row.condalock, row.condalock_yaml) == ("", "", "") and row.archived_at is not None
    assert stored(build.id, "build.log") == LOG.encode()
    assert stored(build.id, "conda.lock") == LOCK.encode()
    assert stored(build.id, "conda-lock.yml") == LOCK_YAML.encode()
    assert bodies(client, build.id) == expected
    assert downloads(build.id) == files


@pytest.mark.django_db
def test_a_build_without_a_lock_stores_only_its_log_and_still_answers_404_for_the_lock(client):
    build = ended_build()
    before = client.get(f"/v1alpha1/builds/{build.id}/condalock")
    assert archive_build(build.id) is True
    assert stored(build.id, "build.log") == LOG.encode()
    assert stored(build.id, "conda.lock") is None and stored(build.id, "conda-lock.yml") is None
    after = client.get(f"/v1alpha1/builds/{build.id}/condalock")
    assert (before.status_code, before.content) == (after.status_code, after.content) == (
        404, f'{{"message":"Build \'{build.id}\' is not a conda build and has no lock"}}'.encode())


@pytest.mark.django_db
def test_archiving_twice_does_nothing_the_second_time():
    build = ended_build()
    assert archive_build(build.id) is True
    first = Build.objects.get(pk=build.id).archived_at
    store().delete(key(build.id, "build.log"))  # a second upload would put it back
    assert archive_build(build.id) is False
    assert stored(build.id, "build.log") is None and Build.objects.get(pk=build.id).archived_at == first


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Build.Status.PENDING, Build.Status.RUNNING])
def test_a_build_not_ended_is_never_archived(status, settings):
    settings.WAVE_BUILD_ARCHIVE_AFTER = 0
    build = BuildFactory(status=status, log="still going\n", finished_at=timezone.now() - timedelta(days=1))
    assert archive_build(build.id) is False
    assert archive_ended_builds() == 0
    row = Build.objects.get(pk=build.id)
    assert (row.log, row.archived_at) == ("still going\n", None) and stored(build.id, "build.log") is None


@pytest.mark.django_db
def test_a_log_appended_during_the_upload_keeps_the_build_unarchived_until_the_next_try(monkeypatch):
    """The UPDATE is conditional on the texts uploaded: a line appended meanwhile (a reaped worker's)
    is not blanked away unstored."""
    build = ended_build()
    real_put = type(store()).put_bytes

    def put_then_append(self, name, data):
        real_put(self, name, data)
        Build.objects.filter(pk=build.id).update(log=appended("late line\n"))

    monkeypatch.setattr(type(store()), "put_bytes", put_then_append)
    assert archive_build(build.id) is False
    monkeypatch.undo()
    assert Build.objects.get(pk=build.id).log == LOG + "late line\n"
    assert archive_build(build.id) is True
    assert stored(build.id, "build.log") == (LOG + "late line\n").encode()


@pytest.mark.django_db
def test_a_line_appended_after_the_archive_reads_as_the_end_of_the_log(client):
    build = ended_build()
    archive_build(build.id)
    Build.objects.filter(pk=build.id).update(log=appended("Build failed: reaped\n"))
    assert client.get(f"/v1alpha1/builds/{build.id}/logs").content == (LOG + "Build failed: reaped\n").encode()


@pytest.mark.django_db
def test_the_store_down_leaves_the_build_as_it_was_and_reading_an_archived_log_is_a_503(client, settings):
    build, archived = conda_build(), ended_build()
    archive_build(archived.id)
    settings.WAVE_STORAGE_URL, name = closed_store()
    with pytest.raises(Unreachable):
        archive_build(build.id)
    settings.WAVE_BUILD_ARCHIVE_AFTER = 0
    Build.objects.filter(pk=build.id).update(finished_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(Unreachable):
        archive_ended_builds()
    row = Build.objects.get(pk=build.id)
    assert (row.log, row.condalock, row.condalock_yaml, row.archived_at) == (LOG, LOCK, LOCK_YAML, None)
    # Not archived: read from Postgres, the store not needed.
    assert client.get(f"/v1alpha1/builds/{build.id}/logs").content == LOG.encode()
    down = client.get(f"/v1alpha1/builds/{archived.id}/logs")
    assert (down.status_code, down.json()) == (503, {"message": f"Unavailable: {name}: cannot connect"})
    page = Client().get(f"/view/builds/{archived.id}")
    assert page.status_code == 200 and f"The archived log cannot be read now: {name}: cannot connect" in page.content.decode()
    follow = Client().get(f"/view/builds/{archived.id}/log?offset=5").json()
    assert followed(follow) == {"text": "", "offset": 5, "status": "FAILED", "completed": True}
    assert downloads(archived.id)[0] == (503, f"Unavailable: {name}: cannot connect".encode())


@pytest.mark.django_db
def test_the_page_and_its_follower_answer_the_same_across_the_archive():
    build = conda_build()
    long_log = "first line\n" + ("x" * 999 + "\n") * 3000 + "last line\n"
    long = ended_build(log=long_log)

    def answers():
        page = Client().get(f"/view/builds/{build.id}").content.decode()
        long_page = Client().get(f"/view/builds/{long.id}").content.decode()
        follows = [followed(Client().get(f"/view/builds/{build.id}/log?offset={n}").json()) for n in (0, 61, 10_000)]
        long_follow = followed(Client().get(f"/view/builds/{long.id}/log?offset=2999990").json())
        return page, long_page, follows, long_follow

    before = answers()
    assert "Étape 1/2 : ✓ ünïcødé" in before[0] and "@EXPLICIT" in before[0]
    assert "The log has 3000021 characters; its last 100000 are shown" in before[1] and "first line" not in before[1]
    assert before[2] == [
        {"text": LOG, "offset": 91, "status": "SUCCEEDED", "completed": True},
        {"text": "\ttabbed line\nBuild failed: no\n", "offset": 91, "status": "SUCCEEDED", "completed": True},
        {"text": "", "offset": 10_000, "status": "SUCCEEDED", "completed": True},
    ]
    assert before[3] == {"text": "x" * 20 + "\nlast line\n", "offset": 3000021, "status": "FAILED", "completed": True}
    assert archive_build(build.id) and archive_build(long.id)
    assert answers() == before


@pytest.mark.django_db
def test_the_sweep_archives_builds_ended_long_enough_ago(settings):
    settings.WAVE_BUILD_ARCHIVE_AFTER = 0
    old = ended_build(finished_at=timezone.now() - timedelta(seconds=archive.SWEEP_AFTER + 60))
    recent = ended_build(finished_at=timezone.now() - timedelta(seconds=30))
    assert archive_ended_builds() == 1
    assert Build.objects.get(pk=old.id).archived_at is not None and Build.objects.get(pk=recent.id).archived_at is None
    settings.WAVE_BUILD_ARCHIVE_AFTER = 3600  # later than that: left alone
    ended_build(finished_at=timezone.now() - timedelta(seconds=archive.SWEEP_AFTER + 60))
    assert archive_ended_builds() == 0


@pytest.mark.django_db
def test_deleting_builds_in_the_admin_deletes_their_stored_objects():
    builds = [conda_build(), ended_build(), ended_build()]
    for build in builds:
        archive_build(build.id)
    store().put_bytes(key(builds[1].id, "image.sif"), b"SIF")
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert admin.post(f"/admin/builds/build/{builds[0].id}/delete/", {"post": "yes"}).status_code == 302
    assert admin.post("/admin/builds/build/", {"action": "delete_selected", "post": "yes",
                                               "_selected_action": [b.id for b in builds[1:]]}).status_code == 302
    assert not Build.objects.filter(pk__in=[b.id for b in builds]).exists()
    for build in builds:
        for name in ("build.log", "conda.lock", "conda-lock.yml", "image.sif"):
            assert stored(build.id, name) is None, (build.id, name)


@pytest.mark.django_db
def test_the_admin_shows_an_archived_log():
    build = conda_build()
    archive_build(build.id)
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/builds/build/{build.id}/change/").content.decode()
    assert "Étape 1/2 : ✓ ünïcødé" in page and "@EXPLICIT" in page and "version: 1" in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_build_is_archived_at_its_end(tmp_path):
    queue = f"archive-{uuid.uuid4().hex[:8]}"
    server = start_server(tmp_path / "server.log", WAVE_BUILD_QUEUE=queue)
    worker = start_worker(tmp_path / "worker.log", queue, WAVE_BUILD_QUEUE=queue, WAVE_BUILD_ARCHIVE_AFTER="0")
    marker = uuid.uuid4().hex
    try:
        answer = server.request_container({"containerFile": b64(f"FROM {REGISTRY}/library/busybox\nRUN echo {marker}\n")})
        assert completed(server, answer["buildId"])["succeeded"] is True
        build = wait_until(lambda: Build.objects.filter(pk=answer["buildId"], archived_at__isnull=False).first(), timeout=60)
        body = httpx.get(f"{server.url}/v1alpha1/builds/{build.id}/logs").content
    finally:
        stop_server(server)
        worker.terminate()
        worker.wait(20)
    assert build.log == "" and f"\n{marker}\n".encode() in body
    assert body.endswith(f"Pushed {build.target_image}@{build.digest}\n".encode())
    assert stored(build.id, "build.log") == body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sif_is_in_the_store_before_its_push_and_goes_when_the_build_is_archived(wave_server, build_worker, busybox, tmp_path):
    body = {"containerFile": b64(f"FROM {busybox}\nRUN echo {uuid.uuid4().hex} > /marker\n"), "format": "sif",
            "freeze": True, "buildRepository": f"{REGISTRY}/sif/{uuid.uuid4().hex[:10]}"}
    answer = wave_server.request_container(body)
    assert completed(wave_server, answer["buildId"])["succeeded"] is True
    pulled = pull_sif(answer["targetImage"], tmp_path).read_bytes()
    assert stored(answer["buildId"], "image.sif") == pulled  # the suite's worker leaves builds unarchived
    assert archive_build(answer["buildId"]) is True
    assert stored(answer["buildId"], "image.sif") is None
    assert stored(answer["buildId"], "build.log").endswith(f"@{Build.objects.get(pk=answer['buildId']).digest}\n".encode())


@pytest.mark.django_db(transaction=True)  # django_rq queues a job inside a transaction at its commit
def test_every_way_a_build_ends_queues_its_archive(settings):
    settings.WAVE_BUILD_QUEUE, settings.WAVE_BUILD_ARCHIVE_AFTER = "idle", 0  # a queue no worker takes
    queue = django_rq.get_queue("idle")
    failed = BuildFactory(status=Build.Status.RUNNING)
    reaped = BuildFactory(status=Build.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    fail_build(failed.id, "gone")
    assert reap_stale_builds() == 1
    for build in (failed, reaped):
        job = queue.fetch_job(f"archive-{build.id}")
        assert (job.func_name, job.args) == ("builds.archive.archive_build", [build.id])
        queue.remove(job)
    settings.WAVE_BUILD_ARCHIVE_AFTER = 60  # later: the sweep's, no job
    later = BuildFactory(status=Build.Status.RUNNING)
    fail_build(later.id, "gone")
    assert queue.fetch_job(f"archive-{later.id}") is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sif_that_cannot_be_stored_is_not_pushed_and_fails_its_build_naming_the_store(tmp_path):
    url, name = closed_store()
    queue = f"archive-sif-{uuid.uuid4().hex[:8]}"
    server = start_server(tmp_path / "server.log", WAVE_BUILD_QUEUE=queue)
    worker = start_worker(tmp_path / "worker.log", queue, WAVE_BUILD_QUEUE=queue, WAVE_STORAGE_URL=url)
    repository = f"{REGISTRY}/sif/{uuid.uuid4().hex[:10]}"
    try:
        answer = server.request_container({"containerFile": b64(f"FROM {REGISTRY}/library/busybox\nRUN echo sif\n"),
                                           "format": "sif", "freeze": True, "buildRepository": repository})
        assert completed(server, answer["buildId"])["succeeded"] is False
    finally:
        stop_server(server)
        worker.terminate()
        worker.wait(20)
    build = Build.objects.get(pk=answer["buildId"])
    assert build.reason == f"The SIF could not be stored before its push: {name}: cannot connect"
    path, tag = repository.split("/", 1)[1], answer["targetImage"].rsplit(":", 1)[1]
    manifest = httpx.get(f"http://{REGISTRY}/v2/{path}/manifests/{tag}", auth=registry_auth(REGISTRY))
    assert manifest.status_code == 404
