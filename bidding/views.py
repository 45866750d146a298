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
from bidding.models import Bid, OpeningResponse
from bidding.services import bids, opening, rescue
from notices.models import Notice
from trading.api import validated
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
        data = validated(EnrolSerializer, request)
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
        document_id = validated(DocumentRefSerializer, request)["document"]
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
        notice = get_object_or_404(Notice.objects.select_related("lot"), pk=validated(NoticeRefSerializer, request)["notice"])
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
        data = validated(KeySerializer, request)
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
    # Declared here, or at completion (BidCompleteSerializer) by a client that hashes while it sends.
    sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class BidCompleteSerializer(serializers.Serializer):
    sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


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
        data = validated(BidStartSerializer, request)
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
        numbers = validated(PartsSerializer, request)["parts"]
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
    @extend_schema(request=BidCompleteSerializer, responses={200: dict})
    def post(self, request, pk):
        sha256 = validated(BidCompleteSerializer, request)["sha256"]
        return Response(bids.bid_complete(bid=_bid(request, pk), actor=request.user, sha256=sha256))


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


# --- Opening (开标): sign-in, decryption, the window, the record, the rescue key -------------------------------
# Thin views over bidding/services/opening.py and rescue.py; who may see or do what is decided there.


class DataKeySerializer(serializers.Serializer):
    data_key = serializers.CharField(help_text="base64 of the 32-byte data key the bidder unwrapped with its own private key")


class ExtendSerializer(serializers.Serializer):
    until = serializers.DateTimeField()
    reasons = serializers.CharField(max_length=1000, allow_blank=True)


class RespondSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(required=False, default=False)
    objection = serializers.CharField(required=False, default="", allow_blank=True, max_length=5000)


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)


class RescueKeyCreateSerializer(serializers.Serializer):
    officers = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=255)
    threshold = serializers.IntegerField()


class ShareSerializer(serializers.Serializer):
    share = serializers.CharField(max_length=600)


def _bid_view(bid: Bid) -> dict:
    return {
        "id": str(bid.pk),
        "status": bid.status,
        "status_reason": bid.status_reason,
        "plaintext_size": bid.plaintext_size,
        "plaintext_sha256": bid.plaintext_sha256,
        "decrypted_at": bid.decrypted_at,
        "decrypted_via": bid.decrypted_via,
    }


class OpeningView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        return Response(opening.opening_view(lot=_lot(request, lot_id), user=request.user))


class OpeningSignInView(APIView):
    @extend_schema(request=None, responses={200: dict, 201: dict})
    def post(self, request, lot_id):
        sign_in, created = opening.opening_sign_in(lot=_lot(request, lot_id), actor=request.user)
        return Response(
            {"signed_in_at": sign_in.signed_in_at, "ip": sign_in.ip},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class BidDecryptView(APIView):
    @extend_schema(request=DataKeySerializer, responses={200: dict})
    def post(self, request, pk):
        raw = _b64(validated(DataKeySerializer, request)["data_key"].strip())  # b"" if not base64: refused by the service
        bid = opening.bid_decrypt(bid=_bid(request, pk), actor=request.user, data_key=raw)
        return Response(_bid_view(bid))


class BidRescueDecryptView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request, pk):
        return Response(_bid_view(opening.bid_rescue_decrypt(bid=_bid(request, pk), actor=request.user)))


class OpeningExtendView(APIView):
    @extend_schema(request=ExtendSerializer, responses={200: dict})
    def post(self, request, lot_id):
        data = validated(ExtendSerializer, request)
        lot = _lot(request, lot_id)
        opening.opening_extend(lot=lot, actor=request.user, until=data["until"], reasons=data["reasons"])
        return Response(opening.opening_view(lot=lot, user=request.user))


class OpeningCloseView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request, lot_id):
        lot = _lot(request, lot_id)
        opening.opening_close_decryption(lot=lot, actor=request.user)
        return Response(opening.opening_view(lot=lot, user=request.user))


class OpeningPublishView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request, lot_id):
        lot = _lot(request, lot_id)
        opening.opening_publish_record(lot=lot, actor=request.user)
        return Response(opening.opening_view(lot=lot, user=request.user))


class OpeningRecordPdfView(APIView):
    @extend_schema(responses={(200, "application/pdf"): bytes, 302: None})
    def get(self, request, lot_id):
        record = opening.opening_record_file(lot=_lot(request, lot_id), user=request.user)
        store = get_store()
        filename = f"开标记录-{record.lot.transaction_code}.pdf"
        url = store.presigned_get_url(record.record_object_key, expires=timedelta(seconds=60), filename=filename)
        if url:
            return HttpResponseRedirect(url)
        response = StreamingHttpResponse(store.iter_chunks(record.record_object_key), content_type="application/pdf")
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        response["X-Content-SHA256"] = record.record_sha256
        return response


class OpeningRespondView(APIView):
    @extend_schema(request=RespondSerializer, responses={201: dict})
    def post(self, request, lot_id):
        data = validated(RespondSerializer, request)
        response = opening.opening_respond(
            lot=_lot(request, lot_id), actor=request.user, confirm=data["confirm"], objection=data["objection"]
        )
        return Response(
            {"id": response.pk, "kind": response.kind, "objection": response.objection, "responded_at": response.responded_at},
            status=status.HTTP_201_CREATED,
        )


class OpeningAnswerView(APIView):
    @extend_schema(request=AnswerSerializer, responses={200: dict})
    def post(self, request, lot_id, response_id):
        lot = _lot(request, lot_id)
        response = get_object_or_404(OpeningResponse.objects.select_related("opening"), pk=response_id, opening__lot=lot)
        response = opening.opening_answer_objection(
            response=response, actor=request.user, answer=validated(AnswerSerializer, request)["answer"]
        )
        return Response({"id": response.pk, "answer": response.answer, "answered_at": response.answered_at})


class RescueKeyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        return Response(rescue.rescue_key_view(lot=_lot(request, lot_id), user=request.user))

    @extend_schema(request=RescueKeyCreateSerializer, responses={201: dict})
    def post(self, request, lot_id):
        data = validated(RescueKeyCreateSerializer, request)
        body = rescue.rescue_key_create(
            lot=_lot(request, lot_id), actor=request.user, officer_ids=data["officers"], threshold=data["threshold"]
        )
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"  # the shares exist whole only in this response
        return response


class RescueShareView(APIView):
    @extend_schema(request=ShareSerializer, responses={200: dict})
    def post(self, request, lot_id):
        share = validated(ShareSerializer, request)["share"]
        return Response(rescue.rescue_share_submit(lot=_lot(request, lot_id), actor=request.user, share=share))
