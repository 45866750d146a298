from django.urls import path
from rest_framework.routers import SimpleRouter

from notices import views

router = SimpleRouter()
router.register("notices", views.NoticeViewSet, basename="notice")

urlpatterns = [path("notices/feed.atom", views.NoticeFeed(), name="notice-feed"), *router.urls]
