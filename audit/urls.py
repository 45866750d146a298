from django.urls import path
from rest_framework.routers import SimpleRouter

from audit.api import AuditEventViewSet, AuditExportView, AuditVerifyView

router = SimpleRouter()
router.register("events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("verify/", AuditVerifyView.as_view(), name="audit-verify"),
    path("events/export/", AuditExportView.as_view(), name="audit-export"),
    *router.urls,
]
