"""The build page and the request page carry the user to the pull: the follower's final state, the
pull commands, the files to download, the steps and a failed build's error line."""

from __future__ import annotations

import hashlib
import html
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from builds.models import Build
from containers.models import ContainerRequest
from tests.support.helpers import REGISTRY, SERVER, run

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "d" * 64
STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
LOG = (
    "STEP 1/3: FROM busybox\n"
    "STEP 2/3: RUN make\n"
    "make: building\n"
    "error: make exited with 2\n"
    "STEP 3/3: RUN never\n"
    "Error: building at STEP \"RUN make\": exit status 2\n"
)


def make_build(owner, **fields) -> Build:
    values = dict(
        id="a" * 16 + "_1", content_hash="a" * 16, number=1, status=Build.Status.RUNNING, container_file="FROM busybox\n",
        platform="linux/amd64", build_repository=f"{REGISTRY}/b", target_image=f"{REGISTRY}/b:{'a' * 16}",
        org=owner.org, user=owner, started_at=STARTED, log="STEP 1/3: FROM busybox\n",
    )
    return Build.objects.create(**values | fields)


def page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_follower_carries_the_final_state_once_the_build_ends(owner):
    build = make_build(owner)
    client = Client()
    client.force_login(owner)
    running = client.get(f"/view/builds/{build.id}/log?offset=0").json()
    assert running == {
        "text": "STEP 1/3: FROM busybox\n", "offset": 23, "status": "RUNNING", "completed": False,
        "digest": "", "duration": None, "reason": "", "started": "2026-03-01T12:00:00+00:00", "finished": None, "size": None, "layers": [],
    }
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, digest=DIGEST, finished_at=STARTED + timedelta(seconds=12.5), exit_status=0,
    )
    ended = client.get(f"/view/builds/{build.id}/log?offset=23").json()
    assert ended == {
        "text": "", "offset": 23, "status": "SUCCEEDED", "completed": True,
        "digest": DIGEST, "duration": 12.5, "reason": "", "started": "2026-03-01T12:00:00+00:00", "finished": "2026-03-01T12:00:12.500000+00:00",
        "size": None, "layers": [],  # no such manifest in the registry (the layer test reads a real one)
    }
    shown = page(client, f"/view/builds/{build.id}")
    assert DIGEST in shown and "12.50 s" in shown and "2026-03-01 12:00:12 UTC" in shown


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_a_stranger_gets_the_pull_commands_of_a_build(owner, outsider, who):
    build = make_build(owner, status=Build.Status.SUCCEEDED, digest=DIGEST)
    client = Client()
    if who == "outsider":
        client.force_login(outsider)
    shown = page(client, f"/view/builds/{build.id}")
    image = build.target_image
    for command in (f"docker pull {image}", f"podman pull {image}", f"singularity pull docker://{image}",
                    f"apptainer pull docker://{image}", f"process.container = '{image}'", f"-with-docker {image}"):
        assert command in shown
    assert 'class="copy"' in shown and "/static/wave/copy." in shown
    assert "files/build.log" not in shown and "STEP 1/3" not in shown  # the private side stays private


def test_a_singularity_build_is_pulled_over_oras_and_not_by_docker(owner):
    build = make_build(owner, format=Build.Format.SIF, freeze=True, status=Build.Status.SUCCEEDED)
    shown = page(Client(), f"/view/builds/{build.id}")
    assert f"singularity pull oras://{build.target_image}" in shown and f"apptainer pull oras://{build.target_image}" in shown
    assert f"process.container = 'oras://{build.target_image}'" in shown and "-with-singularity oras://" in shown
    assert "docker pull" not in shown and "podman pull" not in shown and "docker://" not in shown


def test_the_request_page_gives_the_pull_commands_of_the_wave_image(owner, outsider):
    build = make_build(owner)
    target = f"{SERVER}/wt/0123456789ab/b:" + "a" * 16
    ContainerRequest.objects.create(
        token="0123456789ab", user=owner, org=owner.org, endpoint="/v1alpha2/container", request={}, platform="linux/amd64",
        target_image=target, build=build,
    )
    stranger = Client()
    stranger.force_login(outsider)
    for client in (Client(), stranger):  # the request id is the link Nextflow prints: public, like Wave's page
        shown = page(client, "/view/containers/0123456789ab")
        assert f"docker pull {target}" in shown and f"singularity pull docker://{target}" in shown
        assert f"docker pull {build.target_image}" not in shown  # the name the request returned, not the build's


def test_a_failed_builds_page_marks_its_first_error_line_and_lists_its_steps(owner):
    build = make_build(owner, status=Build.Status.FAILED, log=LOG, reason="error: make exited with 2\nsecond line",
                       finished_at=STARTED + timedelta(seconds=3))
    client = Client()
    client.force_login(owner)
    shown = page(client, f"/view/builds/{build.id}")
    assert '<span data-t="">make: building\n</span><mark id="error-line" data-t="">error: make exited with 2\n</mark><span data-t="">STEP 3/3: RUN never\n</span>' in shown
    assert shown.count("<mark") == 1 and 'href="#error-line"' in shown
    steps = shown[shown.index('<ol id="steps">'): shown.index("</ol>")]
    assert steps.count("<li>") == 3 and "3/3: RUN never" in steps
    assert 'class="reason">error: make exited with 2\nsecond line</dd>' in shown  # newlines kept (pre-wrap)


def test_recorded_steps_show_how_long_each_took_to_whoever_reads_the_log(owner):
    at = STARTED.timestamp()
    build = make_build(owner, status=Build.Status.SUCCEEDED, log=LOG, finished_at=STARTED + timedelta(seconds=12.5), steps=[
        {"step": "1/3: FROM busybox", "at": at}, {"step": "2/3: RUN make", "at": at + 1.25}, {"step": "3/3: RUN never", "at": at + 9},
    ])
    client = Client()
    client.force_login(owner)
    shown = page(client, f"/view/builds/{build.id}")
    steps = shown[shown.index('<ol id="steps">'): shown.index("</ol>")]
    for text in ("1/3: FROM busybox</code> <span class=\"step-time\">1.2 s", "2/3: RUN make</code> <span class=\"step-time\">7.8 s",
                 "3/3: RUN never</code> <span class=\"step-time\">3.5 s"):
        assert text in steps, steps
    expected = [{"step": "1/3: FROM busybox", "seconds": 1.2}, {"step": "2/3: RUN make", "seconds": 7.8},
                {"step": "3/3: RUN never", "seconds": 3.5}]
    assert client.get(f"/view/builds/{build.id}/log").json()["steps"] == expected
    # The steps name the recipe's commands: not for whoever may not read the log.
    assert "steps" not in Client().get(f"/view/builds/{build.id}/log").json()
    assert "RUN make" not in page(Client(), f"/view/builds/{build.id}")


def test_a_succeeded_build_marks_no_error_line(owner):
    build = make_build(owner, status=Build.Status.SUCCEEDED, log="error: a warning a step printed and survived\n")
    client = Client()
    client.force_login(owner)
    assert "<mark" not in page(client, f"/view/builds/{build.id}")


TIMED_LOG = "line one\nline two\n<img src=x onerror=alert(1)>\n"
TIMED = [[0, STARTED.timestamp() + 0.4], [9, STARTED.timestamp() + 2.7], [18, STARTED.timestamp() + 61.0]]


def test_the_log_shows_when_each_line_came_behind_a_box_to_whoever_reads_it(owner, outsider):
    build = make_build(owner, status=Build.Status.SUCCEEDED, log=TIMED_LOG, log_times=TIMED, finished_at=STARTED + timedelta(seconds=62))
    client = Client()
    client.force_login(owner)
    response = client.get(f"/view/builds/{build.id}")
    shown = response.content.decode()
    assert '<input type="checkbox" id="log-times"><label for="log-times">Show when each line came' in shown
    assert ('<pre id="log"><span data-t="12:00:00">line one\n</span><span data-t="12:00:02">line two\n</span>'
            '<span data-t="12:01:01">&lt;img src=x onerror=alert(1)&gt;\n</span></pre>') in shown
    # The follower gets the marks of what it is sent, counted from its offset: the one in force at 0.
    assert client.get(f"/view/builds/{build.id}/log?offset=12").json()["times"] == [[0, "12:00:02"], [6, "12:01:01"]]
    assert client.get(f"/view/builds/{build.id}/log?offset=18").json()["times"] == [[0, "12:01:01"]]
    assert "times" not in client.get(f"/view/builds/{build.id}/log?offset=47").json()  # nothing more to show
    assert client.get(f"/v1alpha1/builds/{build.id}/logs").content.decode() == TIMED_LOG  # the API's log is the log alone
    other_org = Client()
    other_org.force_login(outsider)
    for stranger in (Client(), other_org):
        assert "times" not in stranger.get(f"/view/builds/{build.id}/log").json()
        assert "12:00:02" not in stranger.get(f"/view/builds/{build.id}").content.decode()


def test_a_log_without_marks_hides_the_box(owner):
    build = make_build(owner, status=Build.Status.SUCCEEDED, log="written before logs were timed\n")
    client = Client()
    client.force_login(owner)
    shown = client.get(f"/view/builds/{build.id}").content.decode()
    assert '<input type="checkbox" id="log-times" hidden>' in shown
    assert '<pre id="log"><span data-t="">written before logs were timed\n</span></pre>' in shown


@pytest.mark.parametrize(("name", "field"), [
    ("Containerfile", "container_file"), ("conda.yml", "conda_file"), ("conda.lock", "condalock"),
    ("conda-lock.yml", "condalock_yaml"), ("build.log", "log"),
])
def test_the_owner_downloads_each_file_of_a_conda_build(owner, name, field):
    build = make_build(owner, status=Build.Status.SUCCEEDED, conda_file="dependencies:\n- salmon\n",
                       condalock="@EXPLICIT\nhttps://x/salmon.conda\n", condalock_yaml="version: 1\n", log=LOG)
    client = Client()
    client.force_login(owner)
    shown = page(client, f"/view/builds/{build.id}")
    assert f'href="/view/builds/{build.id}/files/{name}" download' in shown
    response = client.get(f"/view/builds/{build.id}/files/{name}")
    assert response.status_code == 200 and response.content.decode() == getattr(build, field)
    assert response["Content-Disposition"] == f'attachment; filename="{build.id}-{name}"'


def test_files_a_build_does_not_have_are_clear_404s(owner):
    build = make_build(owner)
    client = Client()
    client.force_login(owner)
    assert "files/conda.yml" not in page(client, f"/view/builds/{build.id}")
    missing = client.get(f"/view/builds/{build.id}/files/conda.yml")
    assert missing.status_code == 404 and "has no conda file" in missing.content.decode()
    unknown = client.get(f"/view/builds/{build.id}/files/passwd")
    assert unknown.status_code == 404 and "No file 'passwd'" in unknown.content.decode()


def test_a_succeeded_build_shows_the_layers_and_size_its_registry_has(owner, busybox, registry_authfile):
    raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", registry_authfile, f"docker://{busybox}").stdout
    manifest = json.loads(raw)
    digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    build = make_build(owner, status=Build.Status.SUCCEEDED, digest=digest, target_image=busybox, finished_at=STARTED + timedelta(seconds=2))
    shown = page(Client(), f"/view/builds/{build.id}")  # public, like the digest
    rows = shown[shown.index('<table id="layers">'): shown.index("</table>")]
    assert rows.count("<tr><td>") == len(manifest["layers"]) > 0
    for layer in manifest["layers"]:
        assert f'<code>{layer["digest"]}</code></td><td data-bytes="{layer["size"]}">' in rows
    follow = Client().get(f"/view/builds/{build.id}/log?offset=0").json()
    assert follow["size"] == sum(layer["size"] for layer in manifest["layers"])
    assert [(layer["digest"], layer["size"]) for layer in follow["layers"]] == [(layer["digest"], layer["size"]) for layer in manifest["layers"]]


def test_a_build_whose_manifest_is_gone_says_so_instead_of_failing(owner, busybox):
    build = make_build(owner, status=Build.Status.SUCCEEDED, digest="sha256:" + "0" * 64, target_image=busybox)
    shown = page(Client(), f"/view/builds/{build.id}")
    error = shown[shown.index('<p id="layers-error">'):]
    assert "The pushed manifest could not be read: " in error and "0" * 64 in error.split("</p>")[0]
    assert Client().get(f"/view/builds/{build.id}/log?offset=0").json()["size"] is None


def test_the_build_page_gives_its_org_the_pull_name_of_their_live_token_and_strangers_no_token(owner, member, outsider):
    build = make_build(owner, status=Build.Status.SUCCEEDED)
    fields = dict(endpoint="/v1alpha2/container", request={}, platform="linux/amd64", build=build)
    old, new = (ContainerRequest.objects.create(
        token=token, user=owner, org=owner.org, target_image=f"{SERVER}/wt/{token}/b:{'a' * 16}",
        created_at=STARTED + timedelta(minutes=minutes), **fields,
    ) for token, minutes in (("0000000000aa", 1), ("0000000000bb", 2)))
    ContainerRequest.objects.create(token="0000000000cc", user=owner, org=owner.org, target_image=f"{SERVER}/wt/0000000000cc/b",
                                    created_at=STARTED + timedelta(minutes=3), revoked_at=STARTED, **fields)
    ContainerRequest.objects.create(token="0000000000dd", user=outsider, org=outsider.org, target_image=f"{SERVER}/wt/0000000000dd/b",
                                    created_at=STARTED + timedelta(minutes=4), **fields)
    client = Client()
    client.force_login(member)
    shown = page(client, f"/view/builds/{build.id}")
    assert f'data-tool="Docker">docker pull {new.target_image}</pre>' in shown
    assert f'href="/view/containers/{old.token}"' in shown and f'href="/view/containers/{new.token}"' in shown
    assert "0000000000cc" not in shown and "0000000000dd" not in shown  # revoked; another org's
    anonymous = page(Client(), f"/view/builds/{build.id}")
    assert "/wt/" not in anonymous and f"docker pull {build.target_image}" in anonymous  # tokens are capabilities
    client.force_login(outsider)
    theirs = page(client, f"/view/builds/{build.id}")
    assert f"docker pull {SERVER}/wt/0000000000dd/b" in theirs  # their own request for the same build
    assert "0000000000aa" not in theirs and "0000000000bb" not in theirs
