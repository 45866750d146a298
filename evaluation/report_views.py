"""HTTP for the evaluation report, its signatures and the lot's statistics: thin views over evaluation/report.py and
evaluation/statistics.py. Whoever may not read gets 404 before any service runs."""

from urllib.parse import quote

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation import report, session_selectors
from evaluation.report import DISSENT_MAX
from evaluation.session import WATCHERS, _not_found, _plain
from evaluation.statistics import lot_statistics
from evaluation.views import _lot
from trading.api import validated


class SignInSerializer(serializers.Serializer):
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$")
    agree = serializers.BooleanField()
    dissent = serializers.CharField(allow_blank=True, default="", max_length=DISSENT_MAX)


class ReportView(APIView):
    """GET the report's metadata, content and signatures (sitting members, staff, supervisors; the tenderee side once
    final)."""

    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        return Response(report.report_state(report.report_for(lot=_lot(request, lot_id), user=request.user)))


class ReportPdfView(APIView):
    """GET the report PDF: the final one once every member has signed, else the draft."""

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request, lot_id):
        lot = _lot(request, lot_id)
        document, digest = report.report_document(report.report_for(lot=lot, user=request.user))
        # Read whole and checked against the recorded hash first (a report is small), then sent.
        response = StreamingHttpResponse(iter([document]), content_type="application/pdf")
        response["Content-Length"] = str(len(document))
        response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(lot.name + ' 评标报告')}.pdf"
        response["X-Content-SHA256"] = digest
        response["Cache-Control"] = "no-store"
        return response


class ReportSignView(APIView):
    """POST a member's signature on the draft they read: {"sha256", "agree", "dissent"}."""

    @extend_schema(request=SignInSerializer, responses={200: dict})
    def post(self, request, lot_id):
        lot = _lot(request, lot_id)
        session, _ = session_selectors.session_for(lot=lot, user=request.user)
        data = validated(SignInSerializer, request)
        report.report_sign(
            session=session, actor=request.user, sha256=data["sha256"], agree=data["agree"], dissent=data["dissent"]
        )
        return Response(report.report_state(report.report_for(lot=lot, user=request.user)))


class LotStatisticsView(APIView):
    """GET 评标过程数据统计 of a lot: staff and supervisors only (anyone else 404)."""

    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        lot = _lot(request, lot_id)
        if not request.user.is_authenticated or request.user.role not in WATCHERS:
            raise _not_found()
        return Response(_plain(lot_statistics(lot)))
