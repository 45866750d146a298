from rest_framework.routers import SimpleRouter

from experts import api

router = SimpleRouter()
router.register("experts", api.ExpertViewSet, basename="expert")
router.register("specialties", api.SpecialtyViewSet, basename="specialty")
router.register("expert-unavailability", api.UnavailabilityViewSet, basename="expert-unavailability")
router.register("expert-interests", api.InterestViewSet, basename="expert-interest")

urlpatterns = router.urls
