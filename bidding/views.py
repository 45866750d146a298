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

from bidding import receipts, services
from bidding.models import Bid
from bidding.services import bids
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


# --- Keys and sealed bids ---------------------------------------------------------------------------


class KeySerializer(serializers.Serializer):
    public_key = serializers.CharField(help_text="P-256 public key: PEM, or base64 of the SubjectPublicKeyInfo DER")
    expires_at = serializers.DateTimeField()


class BidderKeysView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        keys = bids.bidder_keys(actor=request.user)
        return Response(
            [{"kid": k.kid, "created_at": k.created_at, "expires_at": k.expires_at, "revoked_at": k.revoked_at} for k in keys]
        )

    @extend_schema(request=KeySerializer, responses={201: dict})
    def post(self, request):
        data = _data(KeySerializer, request)
        text = data["public_key"].strip()
        raw = text.encode() if text.startswith("-----BEGIN") else _b64(text)
        key = bids.bidder_key_register(actor=request.user, public_key=raw, expires_at=data["expires_at"])
        return Response({"kid": key.kid, "expires_at": key.expires_at}, status=status.HTTP_201_CREATED)


def _b64(text: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return b""


class BidStartSerializer(serializers.Serializer):
    lot = serializers.IntegerField()
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.CharField(max_length=64, min_length=64)


class PartsSerializer(serializers.Serializer):
    parts = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


def _bid(request, pk) -> Bid:
    return get_object_or_404(Bid, pk=pk)


class BidsView(APIView):
    """Sealed bids. The lot travels in the body: paths end up in access logs (法22)."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(bids.my_bids(actor=request.user))

    @extend_schema(request=BidStartSerializer, responses={201: dict})
    def post(self, request):
        data = _data(BidStartSerializer, request)
        lot = _lot(request, data["lot"])
        fingerprint = request.headers.get("X-Client-Fingerprint", "")
        bid = bids.bid_start(lot=lot, actor=request.user, size=data["size"], sha256=data["sha256"], fingerprint=fingerprint)
        first = list(range(1, min(bids.part_count(bid), 100) + 1))
        body = bids.bid_detail(bid=bid, actor=request.user)
        body["urls"] = bids.bid_part_urls(bid=bid, actor=request.user, part_numbers=first)
        return Response(body, status=status.HTTP_201_CREATED)


class BidView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        bid = _bid(request, pk)
        body = bids.bid_detail(bid=bid, actor=request.user)
        body["uploaded_parts"] = bids.bid_parts(bid=bid, actor=request.user)
        return Response(body)


class BidPartUrlsView(APIView):
    @extend_schema(request=PartsSerializer, responses={200: dict})
    def post(self, request, pk):
        numbers = _data(PartsSerializer, request)["parts"]
        return Response(bids.bid_part_urls(bid=_bid(request, pk), actor=request.user, part_numbers=numbers))


class BidPartUploadView(APIView):
    """One part through the API, for the embedded object store (no presigned URLs). At most one part in memory."""

    @extend_schema(request={"application/octet-stream": bytes}, responses={200: dict})
    def put(self, request, pk, number):
        bid = _bid(request, pk)
        if int(request.headers.get("Content-Length") or 0) > bid.part_size:
            return Response(
                {"code": "part_too_large", "detail": "分片过大 / part too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        etag = bids.bid_upload_part(bid=bid, actor=request.user, part_number=number, data=request.body)
        return Response({"part": number, "etag": etag})


class BidCompleteView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request, pk):
        return Response(bids.bid_complete(bid=_bid(request, pk), actor=request.user))


class BidWithdrawView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        bids.bid_withdraw(bid=_bid(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlatformKeyView(APIView):
    """The public key that verifies receipts, for offline checks (docs/sealed-bid-format.md)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request):
        key = receipts.platform_private_key()
        return Response(
            {"kid": receipts.public_key_id(key.public_key()), "algorithm": "Ed25519", "public_key": receipts.public_key_pem(key)}
        )
