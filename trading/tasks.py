from celery import shared_task

from trading.services import sweep_deadlines as sweep


@shared_task(name="trading.tasks.sweep_deadlines")
def sweep_deadlines() -> dict:
    return sweep()
