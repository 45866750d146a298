from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from trading import views

router = SimpleRouter()
router.register("rule-sets", views.RuleSetViewSet, basename="ruleset")
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("reviews", views.ReviewViewSet, basename="review")
router.register("lots", views.LotViewSet, basename="lot")
router.register("objections", views.ObjectionViewSet, basename="objection")
router.register("regional-messages", views.RegionalMessageViewSet, basename="regional-message")

api = [
    path("auth/login/", views.LoginView.as_view(), name="login"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/me/", views.MeView.as_view(), name="me"),
    path("", include("notices.urls")),
    path("", include("bidding.urls")),
    path("", include("experts.urls")),
    path("", include("evaluation.urls")),
    path("", include("realtime.urls")),
    path("audit/", include("audit.urls")),
    path("supervision/", include("supervision.urls")),
    *router.urls,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("frontend.urls")),
]
