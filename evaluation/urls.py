from django.urls import path
from rest_framework.routers import SimpleRouter

from evaluation import clarification_views, report_views, ui_views, views

router = SimpleRouter()
router.register("venues", views.VenueViewSet, basename="venue")
router.register("draw-requests", views.DrawRequestViewSet, basename="draw-request")
router.register("committee-members", views.CommitteeMemberViewSet, basename="committee-member")
router.register("evaluation-methods", views.EvaluationMethodViewSet, basename="evaluation-method")

urlpatterns = [
    path("expert-rooms/", ui_views.ExpertRoomsView.as_view(), name="expert-rooms"),
    path("lots/<int:lot_id>/opened-bids/", views.OpenedBidsView.as_view(), name="opened-bids"),
    path("lots/<int:lot_id>/opened-bids/<uuid:bid_id>/file/", views.OpenedBidFileView.as_view(), name="opened-bid-file"),
    path("lots/<int:lot_id>/evaluation-session/", views.EvaluationSessionView.as_view(), name="evaluation-session"),
    path(
        "lots/<int:lot_id>/evaluation-session/start/",
        views.EvaluationSessionStartView.as_view(),
        name="evaluation-session-start",
    ),
    *[
        path(f"lots/<int:lot_id>/evaluation-session/{route}/", views.EvaluationSessionActionView.as_view(action_name=name))
        for route, name in [
            ("advance", "advance"),
            ("sign-in", "sign-in"),
            ("declaration", "declaration"),
            ("chair-vote", "chair-vote"),
            ("reviews", "reviews"),
            ("scores", "scores"),
            ("flags/<int:flag_id>/confirm", "flag-confirm"),
            ("flags/<int:flag_id>/amend", "flag-amend"),
            ("extensions", "extension"),
            ("extensions/<int:proposal_id>/vote", "extension-vote"),
            ("members/<int:member_id>/replace", "replace"),
        ]
    ],
    path("lots/<int:lot_id>/evaluation-session/report/", report_views.ReportView.as_view(), name="evaluation-report"),
    path("lots/<int:lot_id>/evaluation-session/report/pdf/", report_views.ReportPdfView.as_view(), name="evaluation-report-pdf"),
    path(
        "lots/<int:lot_id>/evaluation-session/report/sign/", report_views.ReportSignView.as_view(), name="evaluation-report-sign"
    ),
    path("lots/<int:lot_id>/statistics/", report_views.LotStatisticsView.as_view(), name="lot-statistics"),
    *clarification_views.urlpatterns,
    *router.urls,
]
