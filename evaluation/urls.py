from django.urls import path
from rest_framework.routers import SimpleRouter

from evaluation import views

router = SimpleRouter()
router.register("venues", views.VenueViewSet, basename="venue")
router.register("draw-requests", views.DrawRequestViewSet, basename="draw-request")
router.register("committee-members", views.CommitteeMemberViewSet, basename="committee-member")
router.register("evaluation-methods", views.EvaluationMethodViewSet, basename="evaluation-method")

urlpatterns = [
    path("lots/<int:lot_id>/opened-bids/", views.OpenedBidsView.as_view(), name="opened-bids"),
    path("lots/<int:lot_id>/opened-bids/<uuid:bid_id>/file/", views.OpenedBidFileView.as_view(), name="opened-bid-file"),
    *router.urls,
]
