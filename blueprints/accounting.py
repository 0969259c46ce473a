"""The accounting sync with e-conomic: booked invoice numbers back onto the drafts (hourly timer and
`integration/economic/sync`)."""

import logging

import azure.functions as func

from blueprints._http import register_operations
from shared.accounting.routes import ACCOUNTING_OPERATIONS
from shared.config import sync_schedule
from shared.container import container

bp = func.Blueprint()
register_operations(bp, ACCOUNTING_OPERATIONS)
log = logging.getLogger("invoice_bridge.accounting")


@bp.function_name(name="AccountingSyncTimer")
@bp.timer_trigger(schedule=sync_schedule(), arg_name="timer", run_on_startup=False)
def accounting_sync_timer(timer: func.TimerRequest) -> None:
    """Every tenant that has exported to e-conomic, one after another (the app setting
    ACCOUNTING_SYNC_SCHEDULE, default hourly at minute 15). A tenant's failure is recorded on its sync
    state and does not stop the others; timers are not retried, the next occurrence simply runs again."""
    outcome = container().invoice_sync.run_all(trigger="timer")
    for tenant, text in outcome.items():
        log.info("Accounting sync of %s: %s%s", tenant, text, " (past due)" if timer.past_due else "")
