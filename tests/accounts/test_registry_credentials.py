"""Registry credentials: encrypted at rest, rotated, used for the caller only, never shown."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts.crypto import SecretUnreadable
from accounts.models import RegistryCredential
from tests.support.factories import registry_credential
from tests.support.helpers import post

pytestmark = pytest.mark.django_db

SECRET = "hunter2-registry-secret"


def raw_column(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM accounts_registrycredential WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_the_database_column_holds_no_plaintext(owner):
    credential = registry_credential("quay.io", "bob", SECRET, user=owner)
    stored = raw_column(credential.pk)
    assert SECRET not in stored
    assert RegistryCredential.objects.get(pk=credential.pk).get_secret() == SECRET


def test_neither_str_nor_repr_show_the_secret(owner):
    credential = registry_credential("quay.io", "bob", SECRET, user=owner)
    assert SECRET not in str(credential) and SECRET not in repr(credential)


def test_rotation_re_encrypts_with_the_new_key_and_old_secrets_stay_readable(owner, settings):
    old_key = settings.WAVE_CREDENTIALS_KEYS[0]
    credential = registry_credential("quay.io", "bob", SECRET, user=owner)
    before = raw_column(credential.pk)

    new_key = Fernet.generate_key().decode()
    settings.WAVE_CREDENTIALS_KEYS = [new_key, old_key]
    assert RegistryCredential.objects.get(pk=credential.pk).get_secret() == SECRET  # readable before rotation
    call_command("rotate_credentials")
    after = raw_column(credential.pk)
    assert after != before

    settings.WAVE_CREDENTIALS_KEYS = [new_key]  # the old key retired
    assert RegistryCredential.objects.get(pk=credential.pk).get_secret() == SECRET
    settings.WAVE_CREDENTIALS_KEYS = [old_key]
    with pytest.raises(SecretUnreadable):
        RegistryCredential.objects.get(pk=credential.pk).get_secret()


def test_the_admin_never_renders_the_secret(owner, admin_client):
    credential = registry_credential("quay.io", "bob", SECRET, user=owner)
    page = admin_client.get(f"/admin/accounts/registrycredential/{credential.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html and credential.secret_encrypted not in html


def test_the_admin_form_encrypts_a_new_secret(owner, admin_client):
    response = admin_client.post(
        "/admin/accounts/registrycredential/add/",
        {"user": owner.pk, "registry": "ghcr.io", "username": "bob", "secret": SECRET},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = RegistryCredential.objects.get(registry="ghcr.io")
    assert credential.get_secret() == SECRET and SECRET not in raw_column(credential.pk)


def test_a_private_upstream_resolves_with_the_callers_credentials(api, owner, owner_token, private_registry):
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    response = post(api, "/v1alpha2/container", {"containerImage": private_registry.busybox, "towerAccessToken": owner_token})
    assert response.status_code == 200, response.json()
    assert private_registry.password not in response.content.decode()


def test_another_users_credentials_are_never_used(api, owner, outsider_token, private_registry):
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    response = post(api, "/v1alpha2/container", {"containerImage": private_registry.busybox, "towerAccessToken": outsider_token})
    assert response.status_code == 400
    assert "no credentials are stored" in response.json()["message"]


def test_wrong_stored_credentials_are_reported_without_the_secret(api, owner, owner_token, private_registry):
    registry_credential(private_registry.host, private_registry.username, "wrong-password-xyz", user=owner)
    response = post(api, "/v1alpha2/container", {"containerImage": private_registry.busybox, "towerAccessToken": owner_token})
    assert response.status_code == 400
    assert "denied with the stored credentials" in response.json()["message"]
    assert "wrong-password-xyz" not in response.content.decode()


def test_a_workspace_uses_its_own_credentials(api, owner, member, workspace, private_registry):
    from tests.support.factories import api_token

    registry_credential(private_registry.host, private_registry.username, private_registry.password, workspace=workspace)
    body = {"containerImage": private_registry.busybox, "towerAccessToken": api_token(member)}
    assert post(api, "/v1alpha2/container", body).status_code == 400  # personal: none stored
    response = post(api, "/v1alpha2/container", {**body, "towerWorkspaceId": workspace.pk})
    assert response.status_code == 200, response.json()


def test_credentials_no_configured_key_can_read_are_a_clear_400(api, owner, owner_token, private_registry, settings):
    registry_credential(private_registry.host, private_registry.username, private_registry.password, user=owner)
    settings.WAVE_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]  # the key that wrote them is gone
    response = post(api, "/v1alpha2/container", {"containerImage": private_registry.busybox, "towerAccessToken": owner_token})
    assert response.status_code == 400, response.content
    message = response.json()["message"]
    assert f"registry '{private_registry.host}' cannot be decrypted with the configured keys" in message
    assert private_registry.password not in response.content.decode()
