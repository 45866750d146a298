"""Notification of drawn experts through the pluggable channel (settings.EXPERT_NOTIFIER), after commit."""

import logging

import pytest

from evaluation import notify, services
from evaluation.models import DrawnExpert
from tests.evaluation import kit

pytestmark = pytest.mark.django_db

SENT = []


class Recording:
    def send(self, expert, message):
        SENT.append((expert.pk, message.kind, message.text()))


class Broken:
    def send(self, expert, message):
        raise ConnectionError("provider down")


class FakeSms(notify.SmsVoiceNotifier):
    def deliver(self, phone, text):
        SENT.append((phone, text))


@pytest.fixture(autouse=True)
def _clear():
    SENT.clear()


def test_invited_experts_are_notified_after_commit(parties, lot, tree, settings, django_capture_on_commit_callbacks):
    settings.EXPERT_NOTIFIER = "tests.evaluation.test_notify.Recording"
    kit.experts(7, "A0801")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        draw = services.draw_run(request=kit.request(parties, lot), actor=parties.staff, now=kit.NOW)
    assert SENT == []  # nothing before the commit
    for callback in callbacks:
        callback()
    invited = list(DrawnExpert.objects.filter(draw=draw, status="invited").order_by("position"))
    assert [(pk, kind) for pk, kind, _ in SENT] == [(m.expert_id, "invitation") for m in invited]
    text = SENT[0][2]
    assert "2026-11-26 09:00" in text and invited[0].venue.name in text
    assert lot.name not in text and lot.transaction_code not in text and parties.tenderee.organisation.name not in text


def test_a_broken_channel_does_not_undo_the_draw(parties, lot, tree, settings, django_capture_on_commit_callbacks, caplog):
    settings.EXPERT_NOTIFIER = "tests.evaluation.test_notify.Broken"
    kit.experts(7, "A0801")
    with caplog.at_level(logging.ERROR, logger="evaluation.notify"), django_capture_on_commit_callbacks(execute=True):
        draw = services.draw_run(request=kit.request(parties, lot), actor=parties.staff, now=kit.NOW)
    assert DrawnExpert.objects.filter(draw=draw, status="invited").count() == 5
    assert sum("notifying expert" in r.message for r in caplog.records) == 5


def test_console_is_the_default_and_sms_is_an_extension_point(parties, tree, settings, caplog):
    assert settings.EXPERT_NOTIFIER == "evaluation.notify.ConsoleNotifier"
    expert = kit.expert("A0801")
    with caplog.at_level(logging.INFO, logger="evaluation.notify"):
        notify.notify(expert, notify.Message("replaced"))
    assert f"notify expert {expert.pk}: 【评标专家抽取】您此前收到的评标邀请已取消" in caplog.text
    with pytest.raises(TypeError):  # the bare interface cannot be made, let alone send
        notify.SmsVoiceNotifier().send(expert, notify.Message("replaced"))
    FakeSms().send(expert, notify.Message("fixed"))
    assert SENT == [("13900000000", "【评标专家抽取】评标委员会已组成，请按时到场。")]
