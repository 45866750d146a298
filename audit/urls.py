from django.urls import path
from rest_framework.routers import SimpleRouter

from audit.api import AuditEventViewSet, AuditVerifyView

router = SimpleRouter()
router.register("events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("verify/", AuditVerifyView.as_view(), name="audit-verify"),
    *router.urls,
]
