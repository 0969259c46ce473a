"""Invoicing: the billing directory (customers, service contracts, tickets) and invoice drafts made
from billable position notes ("generate orders", merge, concept PDF, delete).

- `directory`  the directory's entities and the service that keeps its references whole
- `planning`   pure: periods, pricing and `plan_run` (which notes become which lines of which draft)
- `ledger`     draft headers, the billing snapshot a note carries, and the storage Protocol
- `service`    runs, drafts, merge and delete over the repositories, crash-safe (see its docstring)
- `pdf`        the concept invoice
- `api`        HTTP models and handlers
- `importing`  reading directory files for `python -m shared.manage billing import`
"""
