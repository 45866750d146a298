from celery import shared_task

from trading.services import sweep_deadlines as sweep


@shared_task(name="trading.tasks.sweep_deadlines")
def sweep_deadlines() -> dict:
    return sweep()


@shared_task(name="trading.tasks.deliver_regional_lot", acks_late=True)
def deliver_regional_lot(lot_id: int) -> int:
    from trading.regional.outbox import deliver_lot

    return deliver_lot(lot_id)


@shared_task(name="trading.tasks.deliver_regional")
def deliver_regional() -> int:
    from trading.regional.outbox import deliver_due

    return deliver_due()
