"""A user's own page: API tokens (created, shown once, revoked) and registry credentials (never shown)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .models import ApiToken, RegistryCredential


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)


class CredentialForm(forms.Form):
    registry = forms.CharField(max_length=255, help_text="host[:port], e.g. docker.io")
    username = forms.CharField(max_length=255)
    secret = forms.CharField(widget=forms.PasswordInput, help_text="Password or token; stored encrypted, never shown again")


def _account_page(request: HttpRequest, new_token: str | None = None) -> HttpResponse:
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "credentials": RegistryCredential.objects.filter(user=request.user).order_by("registry"),
        "token_form": TokenForm(),
        "credential_form": CredentialForm(),
        "new_token": new_token,
    }
    return render(request, "pages/account.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A token needs a name.")
        return redirect("/view/account/")
    _, plaintext = ApiToken.issue(request.user, form.cleaned_data["name"])
    return _account_page(request, new_token=plaintext)  # shown in this response only, stored nowhere


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
