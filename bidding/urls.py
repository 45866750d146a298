from django.urls import path

from bidding import views

urlpatterns = [
    path("enrolments/", views.EnrolView.as_view(), name="enrol"),
    path("enrolments/mine/", views.MyEnrolmentsView.as_view(), name="my-enrolments"),
    path("lots/<int:lot_id>/enrolments/", views.EnrolmentListView.as_view(), name="lot-enrolments"),
    path("document-links/", views.DocumentLinkView.as_view(), name="document-link"),
    path("downloads/<str:token>/", views.DownloadView.as_view(), name="document-download"),
    path("acknowledgements/", views.AcknowledgeView.as_view(), name="acknowledge"),
]
