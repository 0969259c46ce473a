"""Invoicing: the billing directory (customers, service contracts, tickets) and invoice drafts made
from billable position notes ("generate orders", merge, concept PDF, delete), manual drafts and line
editing.

- `directory`  the directory's entities and the service that keeps its references whole
- `planning`   pure: periods, pricing, manual lines and `plan_run` (which notes become which lines of which draft)
- `ledger`     draft headers, the billing snapshot a note carries, the changes an edit writes
- `service`    runs, drafts and delete over the repositories, crash-safe (see its docstring)
- `merging`    merge and reopen (header-only changes)
- `editing`    manual drafts and line editing, each edit one transaction conditional on the draft's version
- `pdf`        the concept invoice
- `schemas`, `line_schemas`, `wire`, `routes`, `line_routes`  HTTP models and operations
- `importing`  reading directory files for `python -m shared.manage billing import`
"""
