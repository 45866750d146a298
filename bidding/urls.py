from django.urls import path

from bidding import views

urlpatterns = [
    path("lots/<int:lot_id>/enrol/", views.EnrolView.as_view(), name="lot-enrol"),
    path("lots/<int:lot_id>/enrolment/", views.MyEnrolmentView.as_view(), name="lot-my-enrolment"),
    path("lots/<int:lot_id>/enrolments/", views.EnrolmentListView.as_view(), name="lot-enrolments"),
    path("documents/<int:pk>/link/", views.DocumentLinkView.as_view(), name="document-link"),
    path("downloads/<str:token>/", views.DownloadView.as_view(), name="document-download"),
    path("notices/<int:pk>/acknowledge/", views.AcknowledgeView.as_view(), name="notice-acknowledge"),
]
