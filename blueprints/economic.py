"""The e-conomic export: HTTP start and status (`integration/economic/...`), tenant settings, and the
queue-triggered worker on `economic-export`."""

import logging

import azure.functions as func

from blueprints._http import register_operations
from shared.config import EXPORT_QUEUE
from shared.container import container
from shared.export.routes import ECONOMIC_OPERATIONS

bp = func.Blueprint()
register_operations(bp, ECONOMIC_OPERATIONS)
log = logging.getLogger("invoice_bridge.export")


@bp.function_name(name="EconomicExportWorker")
@bp.queue_trigger(arg_name="msg", queue_name=EXPORT_QUEUE, connection="AzureWebJobsStorage")
def economic_export_worker(msg: func.QueueMessage) -> None:
    """Runs one export job. Raising makes the host retry it; after host.json's `maxDequeueCount`
    attempts the message moves to `economic-export-poison` (the job record says so by then)."""
    container().export.process(
        msg.get_body().decode("utf-8", errors="replace"),
        message_id=msg.id or "",
        dequeue_count=msg.dequeue_count or 1,
    )
