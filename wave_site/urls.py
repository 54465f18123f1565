from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts import pages as account_pages
from builds import pages as build_pages
from containers import pages as container_pages
from metrics import pages as usage_pages
from mirrors import pages as mirror_pages
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from containers import registry_views as registry
from metrics.prometheus import metrics_view
from wave_site import health
from wave_site.service_info import ServiceInfoView

handler400 = "wave_site.errors.bad_request"
handler404 = "wave_site.errors.not_found"
handler403 = "wave_site.errors.forbidden"
handler500 = "wave_site.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Pages for people
    path("", container_pages.home),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/accounts/login/"), name="logout"),
    path("view/builds/", build_pages.build_list),
    path("view/builds/<str:build_id>", build_pages.build_detail),
    path("view/builds/<str:build_id>/log", build_pages.build_log),
    path("view/builds/<str:build_id>/files/<str:name>", build_pages.build_file),
    path("view/containers/new", container_pages.new_container),
    path("view/containers/packages", container_pages.package_search),
    path("view/containers/<str:token>", container_pages.token_detail),
    path("view/inspect/", container_pages.inspect_form),
    path("view/mirrors/<str:mirror_id>", mirror_pages.mirror_detail),
    path("view/usage/", usage_pages.usage_index),
    path("view/usage.csv", usage_pages.usage_index_csv),
    path("view/usage/<str:org>.csv", usage_pages.usage_csv),  # before the page: an org is any string
    path("view/usage/<str:org>", usage_pages.usage_org),
    path("view/account/", account_pages.account),
    path("view/account/tokens", account_pages.create_token),
    path("view/account/tokens/<int:pk>/revoke", account_pages.revoke_token),
    path("view/account/credentials", account_pages.save_credential),
    path("view/account/credentials/<int:pk>/delete", account_pages.delete_credential),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("openapi/", SpectacularSwaggerView.as_view(url_name="openapi"), name="api-docs"),
    path("service-info", ServiceInfoView.as_view()),
    path("metrics", metrics_view),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    # The API: each app's ViewSets on a DRF router (wave_site/routers.py), in its urls.py.
    path("", include("containers.urls")),
    path("", include("builds.urls")),
    path("", include("mirrors.urls")),
    path("", include("metrics.urls")),
    # The registry pull API (served by the bare ASGI handler, see wave_site/asgi.py).
    path("v2/", registry.root),
    re_path(r"^v2/wt/(?P<token>[0-9a-f]{12})/(?P<name>.+)/manifests/(?P<reference>[^/]+)$", registry.manifest),
    re_path(r"^v2/wt/(?P<token>[0-9a-f]{12})/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$", registry.blob),
    re_path(r"^v2/wt/(?P<token>[0-9a-f]{12})/(?P<name>.+)/tags/list$", registry.tags),
    re_path(r"^v2/(?P<path>.*)$", registry.unknown),
]
