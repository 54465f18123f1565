from wave_site.routers import ApiRouter

from . import views

router = ApiRouter()
# Two ViewSets share /container-token: its deprecated POST is anonymous-friendly like
# /v1alpha2/container, while /container-token/{token} authenticates (DELETE is staff only).
router.register("container-token", views.LegacyContainerTokenViewSet, basename="legacy-container-request")
router.register("container-token", views.ContainerTokenViewSet, basename="container-token")
router.register("v1alpha2/container", views.ContainerViewSet, basename="container-request")
router.register("v1alpha1/inspect", views.InspectViewSet, basename="inspect")

urlpatterns = router.urls
