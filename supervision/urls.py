from rest_framework.routers import SimpleRouter

from supervision import views

router = SimpleRouter()
router.register("alerts", views.AlertViewSet, basename="supervision-alert")
router.register("lots", views.MonitoredLotViewSet, basename="supervision-lot")

urlpatterns = router.urls
