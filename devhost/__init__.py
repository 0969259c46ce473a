"""A small local Azure Functions host for this app: `python -m devhost`.

Azure Functions Core Tools cannot be installed on our machines, so this package serves the functions
registered on the app's `FunctionApp` the way the platform does: HTTP triggers over waitress with
ASP.NET-style routes, Storage queue triggers with the queue extension's polling, retry and poison
semantics, and timer triggers with the timer extension's schedules, past-due runs and one invocation
at a time. Like the platform, `POST /admin/functions/{name}` runs a queue or timer function on demand.
Function code never knows which host runs it, and `func start` keeps working unchanged.

Modules: `config` (local.settings.json, host.json), `routing` (route templates), `functions`
(indexing the app, invoking functions), `web` (the HTTP side and the admin path), `queues` (queue
triggers), `schedules` (NCRONTAB and TimeSpan schedules, schedule status), `timers` (timer triggers),
`admin` (running a function on demand), `processes` (starting Azurite and the host as child
processes), `host` (the command line).
"""
