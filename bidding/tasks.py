from celery import shared_task

from bidding.services.opening import store_opened_file as store
from trading.objectstore import StoreUnavailable


@shared_task(name="bidding.tasks.store_opened_file", bind=True, max_retries=None, acks_late=True)
def store_opened_file(self, bid_id: str) -> bool:
    """Writes a decrypted bid's opened file; retried with backoff while the store is down."""
    try:
        return store(bid_id=bid_id)
    except StoreUnavailable as exc:
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from None
