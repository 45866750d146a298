"""Publishing a notice: a row is created only when it is published, and it is public from then on."""

from datetime import datetime

from audit.services import audit_record
from notices import ocds
from notices.models import Notice


def notice_create(*, lot, kind: str, title: str, body: str, actor, now: datetime, **fields) -> Notice:
    notice = Notice.objects.create(
        lot=lot,
        kind=kind,
        title=title,
        body=body,
        region_code=lot.project.region_code,
        published_at=now,
        published_by=actor,
        **fields,
    )
    audit_record(action=f"notice.{kind}.published", actor=actor, obj=notice, lot_id=lot.pk, after={"title": title}, now=now)
    ocds.release_notice(notice)  # the lot's OCDS release of this notice (docs/open-data.md)
    return notice
