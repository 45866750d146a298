from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "交易中心"

    def ready(self):
        from audit.services import on_record
        from trading.regional.outbox import on_audit_event

        on_record(on_audit_event)  # the regional link's outbox, written with each audited change
