"""`buildContext` (wave-cli `--context`): verified and checked when the request arrives, part of the
build id, unpacked into the build's context, and `COPY`'d into the image by a real build."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import tarfile

import httpx
import pytest

from builds.builders.base import BuildFailed
from builds.context import write_context
from builds.models import Build, StoredBlob
from containers.models import ContainerRequest
from tests.support.bodies import client_body
from tests.support.helpers import REGISTRY, b64, post, run, wait_until
from tests.support.servers import start_server, start_worker, stop_server

from tests.support.context_tars import entry, layer_of, tar_of, wave_cli_context
from tests.support.factories import StoredBlobFactory

pytestmark = pytest.mark.django_db


def wavecli_body(dockerfile: str, **replace) -> dict:
    """wave-cli's `--context` request, its Dockerfile's base image pointed at this machine's registry."""
    return client_body("wavecli_context", containerFile=b64(dockerfile), **replace)


def fixture_dockerfile(marker: str = "") -> str:
    text = base64.b64decode(client_body("wavecli_context")["containerFile"]).decode()
    return text.replace("docker.io/library/busybox:latest", f"{REGISTRY}/library/busybox:latest") + (
        f"RUN echo {marker} > /marker\n" if marker else ""
    )


def test_the_fixture_is_what_wave_utils_packer_makes_of_its_folder():
    context = client_body("wavecli_context")["buildContext"]
    data = base64.b64decode(context["location"].removeprefix("data:"))
    assert context["gzipSize"] == len(data) and context["gzipDigest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    tar = gzip.decompress(data)
    assert context["tarDigest"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert set(context) == {"location", "gzipDigest", "gzipSize", "tarDigest"}  # Moshi drops the null skipHashing


def test_wave_clis_context_request_is_accepted_stored_and_planned(api):
    body = wavecli_body(fixture_dockerfile())
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 200, response.json()
    build = Build.objects.get(pk=response.json()["buildId"])
    context = body["buildContext"]
    assert build.context["buildContext"] == {"gzipDigest": context["gzipDigest"], "tarDigest": context["tarDigest"]}
    assert StoredBlob.objects.filter(digest=context["gzipDigest"]).exists()
    stored = ContainerRequest.objects.get(token=response.json()["requestId"]).request
    assert stored["buildContext"]["location"] == f"data:<{context['gzipSize']} bytes>"
    assert "H4sI" not in json.dumps(stored)  # no gzip data kept with the request


def test_the_context_is_part_of_the_build_id(api):
    dockerfile = b64(fixture_dockerfile())
    without = post(api, "/v1alpha2/container", {"containerFile": dockerfile}).json()["buildId"]
    with_fixture = post(api, "/v1alpha2/container", wavecli_body(fixture_dockerfile())).json()["buildId"]
    again = post(api, "/v1alpha2/container", wavecli_body(fixture_dockerfile())).json()["buildId"]
    other = wave_cli_context({"hello.txt": b"another hello\n", "scripts/greet.sh": b"echo\n"})
    with_other = post(api, "/v1alpha2/container", {"containerFile": dockerfile, "buildContext": other}).json()["buildId"]
    assert len({without, with_fixture, with_other}) == 3 and again == with_fixture


def test_a_build_id_without_a_context_is_unchanged(api):
    """Requests without `buildContext` keep the ids they had (no key added to the hash, as in Wave)."""
    from builds.naming import content_hash

    dockerfile = f"FROM {REGISTRY}/library/busybox\nRUN true\n"
    build_id = post(api, "/v1alpha2/container", {"containerFile": b64(dockerfile)}).json()["buildId"]
    expected = content_hash({
        "containerFile": dockerfile, "condaFile": "", "platform": "linux/amd64",
        "repository": f"{REGISTRY}/wave/builds", "format": "docker", "layers": [],
    })
    assert build_id == f"{expected}_1"


def test_a_context_without_a_dockerfile_is_refused(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "buildContext": wave_cli_context({"a": b"a"})})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Attribute 'buildContext' requires 'containerFile': a build context is only used by a Dockerfile build"
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ({"gzipDigest": "sha256:" + "0" * 64}, "Attribute 'buildContext': gzipDigest is sha256:0000"),
        ({"tarDigest": "sha256:" + "1" * 64}, "Attribute 'buildContext': tarDigest is sha256:1111"),
        ({"gzipSize": 7}, "Attribute 'buildContext': gzipSize is 7 but the content is"),
        ({"location": "data:!!!"}, "Attribute 'buildContext': the data: location is not valid base64"),
        ({"location": "file:///etc/passwd"}, "must be an http(s):// URL or a data: URI, not 'file:///etc/passwd'"),
        ({"gzipDigest": "md5:abc"}, "buildContext"),
        ({"location": "http://169.254.169.254/latest/context.tar.gz"}, "resolves to 169.254.169.254, a loopback, private or link-local address"),
        ({"location": "http://10.1.2.3/context.tar.gz"}, "resolves to 10.1.2.3, a loopback, private or link-local address"),
    ],
)


def test_a_context_that_does_not_match_its_digests_is_refused(api, override, message):
    context = {**wave_cli_context({"a.txt": b"a\n"}), **override}
    response = post(api, "/v1alpha2/container", {"containerFile": b64("FROM scratch\n"), "buildContext": context})
    assert response.status_code == 400
    assert message in response.json()["message"], response.json()
    assert not Build.objects.exists()


@pytest.mark.parametrize(
    "members, message",
    [
        ([entry("../x", data=b"x")], "Attribute 'buildContext': Build context entry '../x' contains '..'"),
        ([entry("/etc/passwd", data=b"x")], "Build context entry '/etc/passwd' is an absolute path"),
        ([entry("a", tarfile.SYMTYPE, link="/"), entry("a/etc/x", data=b"x")], "symlink 'a' points to the absolute path '/'"),
        ([entry("h", tarfile.LNKTYPE, link="../outside")], "hard link 'h' target '../outside' contains '..'"),
        ([entry("dev/null", tarfile.CHRTYPE)], "Build context entry 'dev/null' is a device"),
    ],
)


def test_a_hostile_context_is_refused_when_the_request_arrives(api, members, message):
    response = post(api, "/v1alpha2/container", {"containerFile": b64("FROM scratch\n"), "buildContext": layer_of(tar_of(*members))})
    assert response.status_code == 400
    assert message in response.json()["message"], response.json()
    assert not Build.objects.exists()


def test_a_gzip_bomb_is_refused_without_inflating_it_whole(api, settings):
    settings.WAVE_MAX_CONTEXT_SIZE = 1 << 20
    settings.WAVE_MAX_CONTEXT_ENTRIES = 10
    bomb = layer_of(tar_of(entry("zeros", data=bytes(32 << 20))))
    assert bomb["gzipSize"] < 100_000
    response = post(api, "/v1alpha2/container", {"containerFile": b64("FROM scratch\n"), "buildContext": bomb})
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Attribute 'buildContext': the content inflates to more than {(1 << 20) + 2048 * 20} bytes"
    )


def test_too_many_entries_are_refused(api, settings):
    settings.WAVE_MAX_CONTEXT_ENTRIES = 3
    context = wave_cli_context({f"f{i}": b"x" for i in range(4)})
    response = post(api, "/v1alpha2/container", {"containerFile": b64("FROM scratch\n"), "buildContext": context})
    assert response.status_code == 400
    assert response.json()["message"] == "Attribute 'buildContext': The build context has more than 3 entries"


def completed(server, build_id: str, timeout: float = 180) -> dict:
    def done():
        status = httpx.get(f"{server.url}/v1alpha1/builds/{build_id}/status").json()
        return status if status["status"] == "COMPLETED" else None

    return wait_until(done, timeout=timeout)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wave_clis_context_is_copied_into_the_built_image(wave_server, build_worker, tmp_path):
    import uuid

    body = wavecli_body(fixture_dockerfile(uuid.uuid4().hex))  # a new build on every run
    answer = wave_server.request_container(body)
    status = completed(wave_server, answer["buildId"])
    assert status["succeeded"] is True, httpx.get(f"{wave_server.url}/v1alpha1/builds/{answer['buildId']}/logs").text
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{answer['targetImage']}", f"oci:{tmp_path / 'image'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'image'}:latest", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "opt/context/hello.txt").read_text() == "hello from the build context\n"
    assert (rootfs / "opt/context/scripts/greet.sh").read_text() == "#!/bin/sh\necho greetings from $0\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_missing_file_fails_without_the_workers_paths(settings, tmp_path):
    """The data folder reached through a symlink: buildah prints the context folder's real path,
    which must read as /build/context like the path the worker knows it by."""
    import uuid

    link = tmp_path / "data-link"
    link.symlink_to(settings.WAVE_DATA_DIR)
    queue = f"context-{uuid.uuid4().hex[:8]}"
    server = start_server(tmp_path / "server.log", WAVE_BUILD_QUEUE=queue)
    worker = start_worker(tmp_path / "worker.log", queue, WAVE_BUILD_QUEUE=queue, WAVE_DATA_DIR=str(link))
    try:
        dockerfile = f"FROM {REGISTRY}/library/busybox\nRUN echo {uuid.uuid4().hex}\nCOPY missing.txt /x\n"
        answer = server.request_container({"containerFile": b64(dockerfile), "buildContext": wave_cli_context({"a.txt": b"a"})})
        status = completed(server, answer["buildId"], timeout=60)
        logs = httpx.get(f"{server.url}/v1alpha1/builds/{answer['buildId']}/logs").text
    finally:
        stop_server(server)
        worker.terminate()
        worker.wait(20)
    build = Build.objects.get(pk=answer["buildId"])
    assert status["succeeded"] is False
    assert 'COPY missing.txt /x": checking on sources under "/build/context"' in build.reason, build.reason
    for path in (str(settings.WAVE_DATA_DIR), str(link), str(tmp_path)):
        assert path not in build.reason and path not in logs, (build.reason, logs)


def stored_context(tar: bytes) -> dict:
    layer = layer_of(tar)
    data = base64.b64decode(layer["location"].removeprefix("data:"))
    StoredBlobFactory(digest=layer["gzipDigest"], data=data, tar_digest=layer["tarDigest"])
    return {"gzipDigest": layer["gzipDigest"], "tarDigest": layer["tarDigest"]}


def a_build(context: dict, dockerfile: str = "FROM scratch\n") -> Build:
    return Build(id="0" * 16 + "_1", container_file=dockerfile, conda_file="", context={"buildContext": context})


def test_the_workers_files_win_over_the_contexts_own(tmp_path):
    tar = tar_of(
        entry("Dockerfile/", tarfile.DIRTYPE), entry("Dockerfile/x", data=b"x"),
        entry("keep.txt", data=b"kept\n"), entry("conda.yml", tarfile.SYMTYPE, link="keep.txt"),
    )
    build = a_build(stored_context(tar), "FROM scratch\nCOPY keep.txt /\n")
    build.conda_file = "dependencies: [x]\n"
    context = write_context(build, tmp_path)
    assert (context / "Dockerfile").read_text() == "FROM scratch\nCOPY keep.txt /\n"
    assert not (context / "conda.yml").is_symlink() and (context / "conda.yml").read_text() == "dependencies: [x]\n"
    assert (context / "keep.txt").read_text() == "kept\n"


def test_the_worker_checks_the_archive_again(tmp_path, settings):
    """Limits lowered after the request was accepted: the worker refuses it, naming the entry."""
    build = a_build(stored_context(tar_of(entry("big", data=b"x" * 5000))))
    settings.WAVE_MAX_CONTEXT_SIZE = 1000
    with pytest.raises(BuildFailed, match=r"The build context unpacks to more than 1000 bytes \(at entry 'big'\)"):
        write_context(build, tmp_path)
    assert not (tmp_path / "context" / "big").exists()


def test_a_translated_definition_files_own_files_replace_what_the_context_puts_in_their_way(tmp_path):
    """A context whose `.wave-singularity.d` is a link (or whose files sit where the service writes)
    cannot redirect the service's writes: the link is replaced, never followed."""
    tar = tar_of(
        entry("data/", tarfile.DIRTYPE), entry("data/keep.txt", data=b"kept\n"),
        entry(".wave-singularity.d", tarfile.SYMTYPE, link="data"), entry(".wave-post.script/", tarfile.DIRTYPE),
    )
    build = a_build(stored_context(tar))
    build.context["files"] = {
        ".wave-singularity.d/env/90-environment.sh": {"text": "#!/bin/sh\n", "mode": 0o755},
        ".wave-post.script": {"text": "echo post\n", "mode": 0o644},
    }
    context = write_context(build, tmp_path)
    assert not (context / ".wave-singularity.d").is_symlink()
    assert (context / ".wave-singularity.d/env/90-environment.sh").read_text() == "#!/bin/sh\n"
    assert (context / ".wave-post.script").read_text() == "echo post\n"
    assert sorted(p.name for p in (context / "data").iterdir()) == ["keep.txt"]
