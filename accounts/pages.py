"""A user's own page: API tokens (created, shown once, revoked) and registry credentials (never shown)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .models import ApiToken, RegistryCredential
from .snippets import snippets

# A token just made rides in the session across the redirect to the account page (post/redirect/get),
# which pops it: it is shown once, and a reload shows it no more.
NEW_TOKEN = "wave_new_token"


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)


class CredentialForm(forms.Form):
    registry = forms.CharField(max_length=255, help_text="host[:port], e.g. docker.io")
    username = forms.CharField(max_length=255)
    secret = forms.CharField(widget=forms.PasswordInput, help_text="Password or token; stored encrypted, never shown again")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    new_token = request.session.pop(NEW_TOKEN, None)
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "credentials": RegistryCredential.objects.filter(user=request.user).order_by("registry"),
        "token_form": TokenForm(),
        "credential_form": CredentialForm(),
        "new_token": new_token,
        "snippets": snippets(settings.WAVE_SERVER_URL, new_token),
    }
    response = render(request, "pages/account.html", context)
    if new_token:
        response["Cache-Control"] = "no-store"  # the one page that holds a token's value
    return response


@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A token needs a name.")
        return redirect("/view/account/")
    _, plaintext = ApiToken.issue(request.user, form.cleaned_data["name"])
    request.session[NEW_TOKEN] = plaintext
    return redirect("/view/account/")


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ApiToken, pk=pk, user=request.user).revoke()
    messages.info(request, "Token revoked.")
    return redirect("/view/account/")


@login_required
@require_POST
def save_credential(request: HttpRequest) -> HttpResponse:
    form = CredentialForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Registry, username and secret are all needed.")
        return redirect("/view/account/")
    credential, created = RegistryCredential.objects.get_or_create(
        user=request.user, registry=form.cleaned_data["registry"].strip().lower(),
        defaults={"username": form.cleaned_data["username"], "secret_encrypted": ""},
    )
    credential.username = form.cleaned_data["username"]
    credential.set_secret(form.cleaned_data["secret"])
    credential.save()
    messages.info(request, f"Credentials for {credential.registry} {'added' if created else 'replaced'}.")
    return redirect("/view/account/")


@login_required
@require_POST
def delete_credential(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(RegistryCredential, pk=pk, user=request.user).delete()
    messages.info(request, "Credentials deleted.")
    return redirect("/view/account/")
