"""Answers shaped as Wave's: request ids on every answer, durable and dry-run answers, status duration,
and scan requests refused as Wave refuses them when scanning is off."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from builds.models import Build
from containers.models import ContainerRequest
from containers.scanning import configured_scanner
from tests.support.helpers import REGISTRY, SERVER, dockerfile, post
from wave_site.redis import sync_redis

pytestmark = pytest.mark.django_db


def status(api, request_id: str):
    return api.get(f"/v1alpha2/container/{request_id}/status")


def test_a_freeze_answer_is_durable_and_its_request_id_is_followed(api, registry):
    body = {"containerFile": dockerfile("freeze"), "freeze": True, "buildRepository": f"{registry}/frozen/answers"}
    answer = post(api, "/v1alpha2/container", body).json()
    build_hash = answer["buildId"][:16]
    pushed = f"{registry}/frozen/answers:{build_hash}"
    assert answer["targetImage"] == pushed and answer["containerImage"] == pushed
    assert "containerToken" not in answer and "expiration" not in answer and "succeeded" not in answer
    assert answer["freeze"] is True and answer["cached"] is False
    followed = status(api, answer["requestId"]).json()
    assert followed["status"] == "PENDING" and followed["buildId"] == answer["buildId"]


def test_a_frozen_request_id_is_no_pull_capability(api, registry, django_capture_on_commit_callbacks):
    body = {"containerFile": dockerfile("frozen-pull"), "freeze": True, "buildRepository": f"{registry}/frozen/answers"}
    with django_capture_on_commit_callbacks(execute=True):
        request_id = post(api, "/v1alpha2/container", body).json()["requestId"]
    request = ContainerRequest.objects.get(token=request_id)
    assert request.freeze is True and not request.is_live  # what a pull reads from Postgres
    assert sync_redis().get(f"wave:token:{request_id}") is None  # and from Redis


def test_a_dry_run_names_the_image_a_real_run_would_and_stores_no_build(api):
    dry = post(api, "/v1alpha2/container", {"containerFile": dockerfile("dry"), "dryRun": True}).json()
    build_hash = dry["buildId"][:16]
    assert dry["buildId"] == f"{build_hash}_0" and not Build.objects.filter(content_hash=build_hash).exists()
    assert dry["targetImage"] == f"{SERVER}/wt/{dry['requestId']}/wave/builds:{build_hash}"
    assert dry["containerToken"] == dry["requestId"] and dry["expiration"]
    assert dry["cached"] is False and dry["succeeded"] is True
    real = post(api, "/v1alpha2/container", {"containerFile": dockerfile("dry")}).json()
    assert real["targetImage"] == dry["targetImage"].replace(dry["requestId"], real["requestId"])
    assert real["buildId"] == f"{build_hash}_1"


def test_a_build_answer_names_the_build_image_and_a_plain_answer_has_no_cached(api, busybox):
    built = post(api, "/v1alpha2/container", {"containerFile": dockerfile("image")}).json()
    assert built["containerImage"] == f"{REGISTRY}/wave/builds:{built['buildId'][:16]}"
    assert built["cached"] is False and "succeeded" not in built
    plain = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()
    assert "cached" not in plain and plain["succeeded"] is True


def test_the_status_duration_is_in_seconds_and_always_has_a_fraction(api, busybox):
    built = post(api, "/v1alpha2/container", {"containerFile": dockerfile("duration")}).json()
    now = timezone.now()
    Build.objects.filter(pk=built["buildId"]).update(
        status=Build.Status.SUCCEEDED, started_at=now, finished_at=now + timedelta(seconds=2, microseconds=500_000)
    )
    response = status(api, built["requestId"])
    assert response.json()["duration"] == 2.5 and b'"duration":2.5' in response.content
    Build.objects.filter(pk=built["buildId"]).update(finished_at=now + timedelta(microseconds=50))
    assert b'"duration":0.0' in status(api, built["requestId"]).content  # not 5e-05: wave-cli needs the '.'
    plain = post(api, "/v1alpha2/container", {"containerImage": busybox}).json()
    literal = json.loads(status(api, plain["requestId"]).content, parse_float=str)["duration"]
    assert "." in literal and "e" not in literal


@pytest.mark.parametrize("mode", ["async", "required"])
def test_a_scan_without_a_scanner_is_refused_as_wave_refuses_it(api, busybox, mode):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "scanMode": mode, "scanLevels": ["LOW"]})
    assert response.status_code == 501
    assert response.json() == {
        "message": "Security scan service is not enabled - Check Wave configuration setting 'wave.scan.enabled'"
    }
    assert not ContainerRequest.objects.exists()


def test_scan_mode_none_is_no_scan(api, busybox):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "scanMode": "none", "scanLevels": None})
    assert response.status_code == 200 and response.json()["succeeded"] is True


@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"scanMode": "REQUIRED"}, "Attribute 'scanMode' takes one of none, async, required - offending value: 'REQUIRED'"),
        ({"scanMode": 1}, "Invalid value for attribute 'scanMode': must be a string, not 1"),
        ({"scanLevels": ["LOW", "severe"]}, "Attribute 'scanLevels' takes LOW, MEDIUM, HIGH, CRITICAL - offending value: 'severe'"),
        ({"scanLevels": "LOW"}, "Invalid value for attribute 'scanLevels': must be a list of strings, not LOW"),
    ],
)


def test_bad_scan_attributes_are_a_400_naming_the_value(api, busybox, attrs, message):
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, **attrs})
    assert response.status_code == 400 and response.json() == {"message": message}


def test_a_scanner_setting_naming_no_backend_is_a_configuration_error(settings):
    settings.WAVE_SCANNER = "trivy"
    with pytest.raises(ImproperlyConfigured, match="WAVE_SCANNER 'trivy' names no scanner backend"):
        configured_scanner()
