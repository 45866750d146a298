from rest_framework.routers import SimpleRouter

from evaluation import views

router = SimpleRouter()
router.register("venues", views.VenueViewSet, basename="venue")
router.register("draw-requests", views.DrawRequestViewSet, basename="draw-request")
router.register("committee-members", views.CommitteeMemberViewSet, basename="committee-member")
router.register("evaluation-methods", views.EvaluationMethodViewSet, basename="evaluation-method")

urlpatterns = router.urls
