from django.urls import path

from bidding import opening_ui_views, views

urlpatterns = [
    path("enrolments/", views.EnrolView.as_view(), name="enrol"),
    path("enrolments/mine/", views.MyEnrolmentsView.as_view(), name="my-enrolments"),
    path("lots/<int:lot_id>/enrolments/", views.EnrolmentListView.as_view(), name="lot-enrolments"),
    path("document-links/", views.DocumentLinkView.as_view(), name="document-link"),
    path("downloads/<str:token>/", views.DownloadView.as_view(), name="document-download"),
    path("acknowledgements/", views.AcknowledgeView.as_view(), name="acknowledge"),
    path("bidder-keys/", views.BidderKeysView.as_view(), name="bidder-keys"),
    path("bids/", views.BidsView.as_view(), name="bids"),
    path("bids/<uuid:pk>/", views.BidView.as_view(), name="bid"),
    path("bids/<uuid:pk>/part-urls/", views.BidPartUrlsView.as_view(), name="bid-part-urls"),
    path("bids/<uuid:pk>/parts/<int:number>/", views.BidPartUploadView.as_view(), name="bid-part"),
    path("bids/<uuid:pk>/complete/", views.BidCompleteView.as_view(), name="bid-complete"),
    path("bids/<uuid:pk>/withdraw/", views.BidWithdrawView.as_view(), name="bid-withdraw"),
    path("platform-key/", views.PlatformKeyView.as_view(), name="platform-key"),
    # Opening (开标)
    path("lots/<int:lot_id>/opening/", views.OpeningView.as_view(), name="opening"),
    path("lots/<int:lot_id>/opening/sign-in/", views.OpeningSignInView.as_view(), name="opening-sign-in"),
    path("lots/<int:lot_id>/opening/extend/", views.OpeningExtendView.as_view(), name="opening-extend"),
    path("lots/<int:lot_id>/opening/close-decryption/", views.OpeningCloseView.as_view(), name="opening-close-decryption"),
    path("lots/<int:lot_id>/opening/publish-record/", views.OpeningPublishView.as_view(), name="opening-publish-record"),
    path("lots/<int:lot_id>/opening/record.pdf", views.OpeningRecordPdfView.as_view(), name="opening-record-pdf"),
    path("lots/<int:lot_id>/opening/respond/", views.OpeningRespondView.as_view(), name="opening-respond"),
    path(
        "lots/<int:lot_id>/opening/responses/<int:response_id>/answer/",
        views.OpeningAnswerView.as_view(),
        name="opening-answer",
    ),
    path("lots/<int:lot_id>/rescue-key/", views.RescueKeyView.as_view(), name="rescue-key"),
    path("lots/<int:lot_id>/rescue-key/shares/", views.RescueShareView.as_view(), name="rescue-key-shares"),
    path("bids/<uuid:pk>/decrypt/", views.BidDecryptView.as_view(), name="bid-decrypt"),
    path("bids/<uuid:pk>/header/", opening_ui_views.BidHeaderView.as_view(), name="bid-header"),
    path("server-time/", opening_ui_views.ServerTimeView.as_view(), name="server-time"),
    path("bids/<uuid:pk>/rescue-decrypt/", views.BidRescueDecryptView.as_view(), name="bid-rescue-decrypt"),
]
