"""Room events: every event published to a room, numbered per room, kept so that a reconnecting client misses nothing.

A room is named "<kind>:<lot id>" ("evaluation:12", "opening:12"). `RoomHead` holds the room's last sequence
number and its current state (what every member of the room may see: phase, paused, who has submitted); its row
is the lock that serialises publishing in the room, so sequence numbers follow commit order with no gap.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Audience(models.TextChoices):
    EVERYONE = "everyone", "房间内所有人"
    WATCHERS = "watchers", "仅工作人员和监督人员"
    MEMBER = "member", "仅一名成员（及工作人员、监督人员）"
    STAFF_SIDE = "staff_side", "工作人员、监督人员和招标人一方"


class RoomHead(models.Model):
    room = models.CharField("房间", max_length=60, primary_key=True)
    last_seq = models.PositiveBigIntegerField("最后序号", default=0)
    state = models.JSONField("当前状态", default=dict, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "实时房间"


class RoomEvent(models.Model):
    room = models.CharField("房间", max_length=60)
    seq = models.PositiveBigIntegerField("序号")
    kind = models.CharField("类型", max_length=40)
    at = models.DateTimeField("时间")
    payload = models.JSONField("内容", default=dict, blank=True)
    audience = models.CharField("接收范围", max_length=20, choices=Audience.choices, default=Audience.EVERYONE)
    audience_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "实时房间事件"
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="room_event_seq_unique"),
            models.CheckConstraint(condition=Q(seq__gt=0), name="room_event_seq_positive"),
            models.CheckConstraint(condition=Q(audience__in=[a.value for a in Audience]), name="room_event_audience_valid"),
            models.CheckConstraint(
                condition=Q(audience="member", audience_user__isnull=False)
                | (~Q(audience="member") & Q(audience_user__isnull=True)),
                name="room_event_member_has_user",
            ),
        ]
