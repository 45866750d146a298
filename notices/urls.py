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
    *router.urls,
]
