"""The workbench's files: every file of the page is served (and nothing else), with its media type and
the security headers, and the deploy package (.funcignore) keeps them."""

from __future__ import annotations

import fnmatch
import re

from shared.workbench.assets import ASSETS, STATIC, file_response, page_response
from tests.support.app import REPO


def test_every_file_of_the_page_is_served_and_nothing_else() -> None:
    on_disk = {path.name for path in STATIC.iterdir() if path.is_file()}

    assert on_disk == set(ASSETS)
    for name in ASSETS:
        answer = file_response(name)
        assert answer.status == 200, name
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("", "../assets.py", "..", "index.html/", "APP.JS", "assets.py", "%2e%2e%2fassets.py"):
        assert file_response(name).status == 404, name


def test_the_page_references_only_files_it_serves() -> None:
    html = page_response().content().decode("utf-8")
    referenced = set(re.findall(r'(?:src|href)="/workbench/([^"]+)"', html))
    imported = set()
    for name in ASSETS:
        if name.endswith(".js"):
            imported |= set(re.findall(r'from "\./([^"]+)"', (STATIC / name).read_text(encoding="utf-8")))

    assert referenced
    assert referenced | imported <= set(ASSETS)
    assert "innerHTML" not in "".join((STATIC / n).read_text(encoding="utf-8") for n in ASSETS if n.endswith(".js"))


def test_the_deploy_package_keeps_the_page() -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in (REPO / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in ASSETS:
        parts = (STATIC / name).relative_to(REPO).parts
        assert not any(fnmatch.fnmatch(part, p) for part in parts for p in patterns), name
