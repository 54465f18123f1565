from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, PlatformAccount, PlatformWorkspace, RegistryCredential, User, Workspace


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "org", "is_staff", "is_active")
    search_fields = ("username", "email")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "user__username", "user__email")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else ("user", "name", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, plaintext = ApiToken.issue(obj.user, obj.name)
        obj.pk, obj.prefix, obj.token_hash = token.pk, token.prefix, token.token_hash
        messages.warning(request, f"The new token is {plaintext} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        live = list(queryset.filter(revoked_at__isnull=True))
        for token in live:  # one by one: each revocation also revokes its container tokens (a signal)
            token.revoke()
        count = len(live)
        messages.info(request, f"Revoked {count} token(s).")


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)


class RegistryCredentialForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Password or token. Stored encrypted and never shown; leave empty to keep the current one.",
    )

    class Meta:
        model = RegistryCredential
        fields = ("user", "workspace", "registry", "username")

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("secret"):
            self.add_error("secret", "A new credential needs a password or token.")
        if bool(cleaned.get("user")) == bool(cleaned.get("workspace")):
            raise forms.ValidationError("A credential belongs to either a user or a workspace.")
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("secret"):
            self.instance.set_secret(self.cleaned_data["secret"])
        return super().save(commit)


@admin.register(RegistryCredential)
class RegistryCredentialAdmin(admin.ModelAdmin):
    form = RegistryCredentialForm
    list_display = ("registry", "username", "user", "workspace", "updated_at")
    list_filter = ("registry",)
    search_fields = ("registry", "username", "user__username", "workspace__name")


@admin.register(PlatformAccount)
class PlatformAccountAdmin(admin.ModelAdmin):
    """Made when a Platform token is first accepted. Deleting one (or its user) makes a new user at the
    next request; deactivating the user blocks the Platform user."""

    list_display = ("user", "platform_user_name", "platform_user_id", "endpoint", "created_at")
    list_filter = ("endpoint",)
    search_fields = ("platform_user_name", "user__username", "user__email")
    readonly_fields = ("user", "endpoint", "platform_user_id", "platform_user_name", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(PlatformWorkspace)
class PlatformWorkspaceAdmin(admin.ModelAdmin):
    list_display = ("workspace", "platform_workspace_id", "endpoint")
    list_filter = ("endpoint",)
    readonly_fields = ("workspace", "endpoint", "platform_workspace_id")

    def has_add_permission(self, request) -> bool:
        return False
