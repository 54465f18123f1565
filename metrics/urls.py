from wave_site.routers import ApiRouter

from . import views

router = ApiRouter()
router.register("v1alpha2/metrics", views.MetricsViewSet, basename="metrics")
router.register("v1alpha1/pull-events", views.PullEventViewSet, basename="pull-event")

urlpatterns = router.urls
