from django.urls import path
from rest_framework.routers import SimpleRouter

from notices import views

router = SimpleRouter()
router.register("notices", views.NoticeViewSet, basename="notice")

urlpatterns = [
    path("notices/feed.atom", views.NoticeFeed(), name="notice-feed"),
    path("lots/<int:lot_id>/award-letters/", views.AwardLettersView.as_view(), name="award-letters"),
    path("letters/", views.LetterListView.as_view(), name="letters"),
    path("letters/<int:pk>/file/", views.LetterFileView.as_view(), name="letter-file"),
    path("letters/verify/<str:code>/", views.LetterVerifyView.as_view(), name="letter-verify"),
    path("ocds/releases/", views.OcdsReleasesView.as_view(), name="ocds-releases"),
    path("ocds/lots/<int:lot_id>/", views.OcdsLotView.as_view(), name="ocds-lot"),
    path("ocds/ocids/<str:ocid>/", views.OcdsLotView.as_view(), name="ocds-ocid"),
    *router.urls,
]
