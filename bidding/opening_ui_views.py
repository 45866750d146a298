"""Reads for the web UI's opening hall (frontend/web/src/areas/opening/): the sealed envelope's header of a bidder's
own bid (GET /api/bids/<id>/header/), so that the bidder's browser can unwrap the data key with its private key without picking the sealed file
again (a bid sealed and uploaded in the browser leaves no copy on the bidder's disk).

The header holds the data key wrapped to the bidder's and the rescue public keys, the commitment and the binding: no
plaintext and nothing that opens without a private key. Only the bid's own bidder may read it (bids.bid_detail says
"no such bid" to anyone else), and only once the bid is completely stored (its header_sha256 was recorded).

And the server's clock (GET /api/server-time/), which the hall counts down on before the opening, when no room
frame carries the time yet (daphne sends no Date header)."""

import base64
import struct

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding import envelope
from bidding.models import Bid
from bidding.services import bids
from trading.api import DomainError, store_unavailable
from trading.objectstore import ObjectMissing, StoreUnavailable, get_store


def _no_header() -> DomainError:
    return DomainError(
        "header_unavailable", "无法读取该投标文件的信封头", "The envelope header of this bid cannot be read", status_code=404
    )


def _read(key: str, offset: int, length: int) -> bytes:
    return b"".join(get_store().iter_chunks(key, offset=offset, length=length))


class BidHeaderView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        bid = get_object_or_404(Bid, pk=pk)
        bids.bid_detail(bid=bid, actor=request.user)  # 404 unless it is the actor's own bid
        if not bid.header_sha256:
            raise _no_header()
        try:
            prefix = _read(bid.object_key, 0, envelope.PREFIX_SIZE)
            if len(prefix) != envelope.PREFIX_SIZE:
                raise _no_header()
            (length,) = struct.unpack(">I", prefix[8:])
            if not 0 < length <= envelope.MAX_HEADER:
                raise _no_header()
            raw = prefix + _read(bid.object_key, envelope.PREFIX_SIZE, length)
        except ObjectMissing:
            raise _no_header() from None
        except StoreUnavailable:
            raise store_unavailable() from None
        # The same bytes the platform checked when the upload completed (header_sha256 is the parsed header's digest).
        try:
            header = envelope.read_header(_reader(raw))
        except envelope.EnvelopeError:
            raise _no_header() from None
        if header.digest.hex() != bid.header_sha256:
            raise _no_header()
        return Response({"bid": str(bid.pk), "header": base64.b64encode(raw).decode()}, status=status.HTTP_200_OK)


def _reader(data: bytes):
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        chunk = data[position : position + n]
        position += len(chunk)
        return chunk

    return read


class ServerTimeView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"now": timezone.localtime().isoformat(timespec="milliseconds")})
