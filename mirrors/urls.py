from wave_site.routers import ApiRouter

from . import views

router = ApiRouter()
router.register("v1alpha1/mirrors", views.MirrorViewSet, basename="mirror")

urlpatterns = router.urls
