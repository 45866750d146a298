"""Writes for bidding: enrolment and downloads (enrolment.py), sealed bids (bids.py)."""

from bidding.services.enrolment import (
    clarification_acknowledge,
    document_for_token,
    document_link,
    download_token,
    enrolled_bidder_ids,
    enrolment_create,
    enrolments_unseal,
    enrolments_visible_to,
    is_enrolled,
    my_enrolment,
    my_enrolments,
)

__all__ = [
    "clarification_acknowledge",
    "document_for_token",
    "document_link",
    "download_token",
    "enrolled_bidder_ids",
    "enrolment_create",
    "enrolments_unseal",
    "enrolments_visible_to",
    "is_enrolled",
    "my_enrolment",
    "my_enrolments",
]
