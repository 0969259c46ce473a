"""A small local Azure Functions host for this app: `python -m devhost`.

Azure Functions Core Tools cannot be installed on our machines, so this package serves the functions
registered on the app's `FunctionApp` the way the platform does: HTTP triggers over waitress with
ASP.NET-style routes, and Storage queue triggers with the queue extension's polling, retry and poison
semantics. Function code never knows which host runs it, and `func start` keeps working unchanged.

Modules: `config` (local.settings.json, host.json), `routing` (route templates), `functions`
(indexing the app, invoking functions), `web` (the HTTP side), `queues` (queue triggers),
`processes` (starting Azurite and the host as child processes), `host` (the command line).
"""
