from celery import shared_task

from supervision.services import scan as run_scan


@shared_task(name="supervision.tasks.scan")
def scan() -> dict:
    return run_scan()
