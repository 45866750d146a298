"""HTTP for enrolment and document download. The enrolment list answers 403 until the deadline."""

from datetime import timedelta
from urllib.parse import quote

from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding import services
from notices.models import Notice
from trading.models import TenderDocument
from trading.objectstore import get_store
from trading.selectors import lots_visible_to


class EnrolSerializer(serializers.Serializer):
    lot = serializers.IntegerField()
    contact_name = serializers.CharField(max_length=50)
    contact_phone = serializers.CharField(max_length=30)


class DocumentRefSerializer(serializers.Serializer):
    document = serializers.IntegerField()


class NoticeRefSerializer(serializers.Serializer):
    notice = serializers.IntegerField()


def _data(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EnrolmentRowSerializer(serializers.Serializer):
    bidder = serializers.CharField(source="bidder.name")
    credit_code = serializers.CharField(source="bidder.credit_code")
    enrolled_at = serializers.DateTimeField()
    contact_name = serializers.CharField()
    contact_phone = serializers.CharField()
    downloads = serializers.JSONField()


def _lot(request, lot_id):
    return get_object_or_404(lots_visible_to(request.user), pk=lot_id)


# Which lot or document a bidder touches travels in the request body, never in the path: paths end
# up in access logs, and before the deadline nobody may learn who enrolled or downloaded (法22).


class EnrolView(APIView):
    @extend_schema(request=EnrolSerializer, responses={201: dict})
    def post(self, request):
        data = _data(EnrolSerializer, request)
        lot = _lot(request, data.pop("lot"))
        services.enrolment_create(lot=lot, actor=request.user, **data)
        return Response(services.my_enrolment(lot=lot, actor=request.user), status=status.HTTP_201_CREATED)


class MyEnrolmentsView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(services.my_enrolments(actor=request.user))


class EnrolmentListView(APIView):
    @extend_schema(responses=EnrolmentRowSerializer(many=True))
    def get(self, request, lot_id):
        rows = services.enrolments_visible_to(user=request.user, lot=_lot(request, lot_id))
        return Response(EnrolmentRowSerializer(rows, many=True).data)


class DocumentLinkView(APIView):
    @extend_schema(request=DocumentRefSerializer, responses={200: dict})
    def post(self, request):
        document_id = _data(DocumentRefSerializer, request)["document"]
        document = get_object_or_404(
            TenderDocument.objects.filter(lot__in=lots_visible_to(request.user)).select_related("lot"), pk=document_id
        )
        return Response(services.document_link(document=document, actor=request.user))


class DownloadView(APIView):
    """The signed link is the capability; the expiry and signature are checked here, not by the store."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 302: None})
    def get(self, request, token):
        document = services.document_for_token(token)
        store = get_store()
        url = store.presigned_get_url(document.object_key, expires=timedelta(seconds=60), filename=document.filename)
        if url:
            return HttpResponseRedirect(url)
        response = StreamingHttpResponse(store.iter_chunks(document.object_key), content_type=document.content_type)
        response["Content-Length"] = str(document.size)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(document.filename)}"
        return response


class AcknowledgeView(APIView):
    @extend_schema(request=NoticeRefSerializer, responses={204: None})
    def post(self, request):
        notice = get_object_or_404(Notice.objects.select_related("lot"), pk=_data(NoticeRefSerializer, request)["notice"])
        services.clarification_acknowledge(notice=notice, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
