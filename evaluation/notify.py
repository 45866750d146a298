"""How drawn experts are told: a pluggable channel chosen by settings.EXPERT_NOTIFIER (a dotted class path).

A channel is any class with `send(expert, message) -> None`. It is called after the transaction that
invited the expert has committed (evaluation/services.py), with a message that names the evaluation
window, the venue and the answer deadline, never the lot, the tenderee or the bidders (法37: the list
stays secret, and the expert should not learn whom they will judge before sitting).

- `ConsoleNotifier` (default): writes the message to the log (logger "evaluation.notify").
- `SmsVoiceNotifier`: the extension point for an SMS / voice-call provider (语音通知). Subclass it, implement
  `deliver(phone, text)` against the provider's API, and point EXPERT_NOTIFIER at the subclass. A send
  that raises is logged and does not undo the invitation: the expert can still answer in the platform, and
  staff can record a telephone answer; the answer deadline and the timeout sweep still apply.
"""

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("evaluation.notify")


@dataclass(frozen=True)
class Message:
    kind: str  # "invitation", "replaced", "fixed"
    window_start: datetime | None = None
    window_end: datetime | None = None
    venue: str = ""
    seat: int | None = None
    respond_by: datetime | None = None

    def text(self) -> str:
        if self.kind == "invitation":
            return (
                f"【评标专家抽取】您被抽取参加评标：{self.window_start:%Y-%m-%d %H:%M} 至 {self.window_end:%Y-%m-%d %H:%M}，"
                f"地点 {self.venue} 第{self.seat}席。请于 {self.respond_by:%Y-%m-%d %H:%M} 前登录平台确认或拒绝。"
            )
        if self.kind == "replaced":
            return "【评标专家抽取】您此前收到的评标邀请已取消，无需参加。"
        return "【评标专家抽取】评标委员会已组成，请按时到场。"


class Notifier(Protocol):
    def send(self, expert, message: Message) -> None: ...


class ConsoleNotifier:
    """The default channel: the log (stderr under the default LOGGING)."""

    def send(self, expert, message: Message) -> None:
        logger.info("notify expert %s: %s", expert.pk, message.text())


class SmsVoiceNotifier(ABC):
    """Extension point for an SMS / voice provider: an interface, usable only through a subclass that implements
    `deliver` against the provider's API."""

    def send(self, expert, message: Message) -> None:
        if not expert.phone:
            logger.warning("expert %s has no phone number; not notified by SMS/voice", expert.pk)
            return
        self.deliver(expert.phone, message.text())

    @abstractmethod
    def deliver(self, phone: str, text: str) -> None:
        """Send `text` to `phone` through the provider; raise if it refuses."""


def get_notifier() -> Notifier:
    return import_string(settings.EXPERT_NOTIFIER)()


def notify(expert, message: Message) -> None:
    """Sends through the configured channel; a failing channel is logged, never raised into the caller."""
    try:
        get_notifier().send(expert, message)
    except Exception:
        logger.exception("notifying expert %s failed", expert.pk)
