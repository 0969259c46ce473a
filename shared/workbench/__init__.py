"""The invoicing workbench: a page for the people who do month-end billing (issue #17).

Plain HTML, CSS and JavaScript files in `static/`, served as they are (no build step, nothing from a
CDN) by `blueprints/workbench.py`. The page calls the same operations as every other client, with the
API key in the `X-Api-Key` header; this module only hands out the files and the headers that protect
them (`assets.py`).
"""
