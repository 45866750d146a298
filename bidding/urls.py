from django.urls import path

from bidding import views

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
]
