"""Housekeeping on a timer: expired Idempotency-Key claims are deleted once a day."""

import logging

import azure.functions as func

from shared.container import container

bp = func.Blueprint()
log = logging.getLogger("invoice_bridge.maintenance")


@bp.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
def purge_expired_idempotency_keys(timer: func.TimerRequest) -> None:
    """Daily at 03:30 UTC. Expired claims already count as unused; this only keeps the table small."""
    deleted = container().idempotency.purge_expired()
    log.info("Deleted %d expired Idempotency-Key claims%s", deleted, " (past due)" if timer.past_due else "")
