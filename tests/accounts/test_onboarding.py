"""The onboarding commands: a metrics reader, an org manager and an API token, each usable at once by
the thing it is for (Basic auth on /metrics, the Usage page, a container request), and safe to rerun."""

from __future__ import annotations

import base64
import io
import logging
import stat

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiToken, User, hash_token
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def basic(username: str, password: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_a_metrics_reader_reads_metrics_with_the_password_from_its_0600_file(tmp_path):
    path = tmp_path / "reader.txt"
    out, _ = run("create_metrics_reader", "prometheus", "--password-file", str(path))
    assert str(path) in out and stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert password not in out
    assert Client().get("/metrics", **basic("prometheus", password)).status_code == 200
    assert Client().get("/v1alpha2/metrics/pulls", **basic("prometheus", password)).status_code == 200
    assert Client().get("/metrics", **basic("prometheus", "wrong")).status_code == 401


def test_a_metrics_reader_run_twice_keeps_its_password_unless_asked(tmp_path):
    path = tmp_path / "reader.txt"
    run("create_metrics_reader", "prometheus", "--password-file", str(path))
    first = path.read_text()
    out, _ = run("create_metrics_reader", "prometheus", "--password-file", str(path))
    assert "password unchanged" in out and path.read_text() == first
    assert User.objects.filter(username="prometheus").count() == 1
    run("create_metrics_reader", "prometheus", "--password-file", str(path), "--new-password")
    assert path.read_text() != first
    assert Client().get("/metrics", **basic("prometheus", first.strip())).status_code == 401
    assert Client().get("/metrics", **basic("prometheus", path.read_text().strip())).status_code == 200


def test_an_existing_user_becomes_a_metrics_reader_without_losing_their_password():
    UserFactory(username="carol")
    assert Client().get("/metrics", **basic("carol", "password")).status_code == 403
    run("create_metrics_reader", "carol")
    assert Client().get("/metrics", **basic("carol", "password")).status_code == 200


def test_an_org_manager_signs_in_and_lands_on_their_orgs_usage(tmp_path):
    path = tmp_path / "manager.txt"
    run("create_org_manager", "Dana@Seqera.io", "--password-file", str(path))
    user = User.objects.get(email="Dana@Seqera.io")
    assert user.is_org_manager and user.org == "seqera.io" and not user.is_staff
    client = Client()
    assert client.login(username="Dana@Seqera.io", password=path.read_text().strip())
    assert client.get("/view/usage/")["Location"] == "/view/usage/seqera.io"
    assert client.get("/view/usage/seqera.io").status_code == 200
    assert client.get("/view/usage/gmail.com").status_code == 403


def test_an_existing_user_becomes_org_manager_once(tmp_path):
    erin = UserFactory(username="erin", email="erin@seqera.io")
    run("create_org_manager", "erin@seqera.io", "--password-file", str(tmp_path / "p"))
    out, _ = run("create_org_manager", "erin@seqera.io", "--password-file", str(tmp_path / "p"))
    assert "password unchanged" in out and not (tmp_path / "p").exists()
    erin.refresh_from_db()
    assert erin.is_org_manager and erin.check_password("password")


@pytest.mark.parametrize("email", ["not-an-email", "nobody@"])
def test_an_org_manager_needs_an_email_with_a_domain(email):
    with pytest.raises(CommandError, match=f"'{email}' is not an email address"):
        run("create_org_manager", email)
    assert not User.objects.exists()


def test_a_staff_token_is_printed_once_stored_hashed_and_never_logged(caplog, busybox):
    caplog.set_level(logging.DEBUG)
    out, err = run("create_api_token", "nextflow-ops", "--staff", "--name", "nextflow")
    token = out.strip()
    assert out == token + "\n"  # alone on stdout: TOKEN=$(manage.py create_api_token ...)
    user = User.objects.get(username="nextflow-ops")
    assert user.is_staff and not user.has_usable_password()
    stored = ApiToken.objects.get(user=user)
    assert stored.token_hash == hash_token(token) and token not in (stored.prefix, stored.name)
    assert token not in err and token not in caplog.text
    response = Client().post("/v1alpha2/container", {"containerImage": busybox, "towerAccessToken": token}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert token not in caplog.text


def test_a_token_for_a_missing_user_needs_staff():
    with pytest.raises(CommandError, match="No user 'ghost'"):
        run("create_api_token", "ghost")
    assert not User.objects.filter(username="ghost").exists()


def test_replace_revokes_the_tokens_of_the_same_name_only():
    user = UserFactory(username="frank")
    old = run("create_api_token", "frank", "--name", "nextflow")[0].strip()
    other = run("create_api_token", "frank", "--name", "laptop")[0].strip()
    new = run("create_api_token", "frank", "--name", "nextflow", "--replace")[0].strip()
    active = {t.token_hash for t in ApiToken.objects.active().filter(user=user)}
    assert active == {hash_token(other), hash_token(new)} and hash_token(old) not in active


def test_the_first_operator_is_made_once_with_the_password_in_a_0600_file(settings, tmp_path):
    settings.WAVE_DATA_DIR = tmp_path
    out, _ = run("ensure_admin")
    path = tmp_path / "admin-password.txt"
    assert str(path) in out and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Client().login(username="admin", password=path.read_text().strip())
    assert run("ensure_admin") == ("", "") and User.objects.filter(is_superuser=True).count() == 1


def test_the_default_password_file_is_in_the_data_folder(settings, tmp_path):
    settings.WAVE_DATA_DIR = tmp_path
    run("create_metrics_reader", "prometheus")
    path = tmp_path / "passwords" / "prometheus.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
