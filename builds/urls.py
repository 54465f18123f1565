from wave_site.routers import ApiRouter

from . import views

router = ApiRouter()
router.register("v1alpha1/builds", views.BuildViewSet, basename="build")

urlpatterns = router.urls
