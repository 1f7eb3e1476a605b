"""Classifying the requests the fakes serve: *data* (pages of records) or fixed *overhead*
(auth, describe, COUNT(), snapshot/probe queries, Bulk job bookkeeping), tallied per kind."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

# -- classifying the requests the fakes serve -----------------------------------------------------
DATA, OVERHEAD = "data", "overhead"


def classify_hubspot(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if path.startswith("/crm/v3/objects/") and path.endswith("/search"):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        sorts = req.get("sorts") or []
        if int(req.get("limit") or 0) == 1 and any(
                isinstance(s, dict) and s.get("direction") == "DESCENDING" for s in sorts):
            return OVERHEAD, "snapshot search"
        return DATA, "search"
    if path.startswith("/crm/v3/objects/") and method == "GET":
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        return DATA, "archived list" if archived else "list"
    if path.startswith("/crm/v4/associations/"):
        return DATA, "associations"
    if path.startswith("/crm/v3/owners"):
        return DATA, "owners"
    if path.startswith("/crm/v3/pipelines"):
        return DATA, "pipelines"
    return OVERHEAD, "other"


def classify_salesforce(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if "/oauth2/" in path:
        return OVERHEAD, "auth"
    if path.endswith("/describe") or path.endswith("/describe/"):
        return OVERHEAD, "describe"
    if path.rstrip("/").endswith("/composite/batch"):
        return OVERHEAD, "describe batch"
    if "/limits/recordCount" in path:
        return OVERHEAD, "record count"
    if "/jobs/query" in path:
        if path.rstrip("/").endswith("/results"):
            return DATA, "bulk results"
        if method == "POST":
            return OVERHEAD, "bulk create"
        if method == "DELETE":
            return OVERHEAD, "bulk delete"
        return OVERHEAD, "bulk poll"
    if re.search(r"/(query|queryAll)/?$", path):
        soql = (query.get("q") or [""])[0]
        if re.match(r"\s*SELECT\s+COUNT\(\)", soql, re.IGNORECASE):
            return OVERHEAD, "count"
        return DATA, "query"
    if re.search(r"/(query|queryAll)/[^/]+$", path):
        return DATA, "query more"
    if re.search(r"/sobjects/[^/]+/deleted/?$", path):
        return DATA, "deleted"
    if re.search(r"/sobjects/[^/]+/updated/?$", path):
        return DATA, "updated"
    return OVERHEAD, "other"


def classify_ga4(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if path.endswith(":runReport"):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        dims = [d.get("name") for d in req.get("dimensions") or [] if isinstance(d, dict)]
        if dims == ["date"]:
            return OVERHEAD, "probe"
        return DATA, "report"
    if path == "/token" or "token" in path:
        return OVERHEAD, "auth"
    return OVERHEAD, "other"


CLASSIFIERS: dict[str, Callable[..., tuple[str, str]]] = {
    "hubspot": classify_hubspot, "salesforce": classify_salesforce, "ga4": classify_ga4,
}


class Tally:
    """Counts the requests one fake answers, by (data|overhead, kind), and remembers which
    Salesforce objects described successfully. Installed by wrapping the app's ``handle``
    (observation only: the answer is the fake's own)."""

    def __init__(self, service: str, server: Any) -> None:
        self.service = service
        self.counts: Counter[tuple[str, str]] = Counter()
        self.errors = 0
        self.described: set[str] = set()
        self.deletable: set[str] = set()    # described with IsDeleted and replicateable
        self._lock = threading.Lock()
        app = server.app
        original = app.handle
        classify = CLASSIFIERS[service]

        def handle(request: Any) -> Any:
            response = original(request)
            cls = classify(request.method, request.path, request.query, request.body)
            with self._lock:
                self.counts[cls] += 1
                if response.status >= 400:
                    self.errors += 1
                m = re.search(r"/sobjects/([^/]+)/describe", request.path)
                if m and response.status < 300:
                    try:
                        self._described(m.group(1), json.loads(response.body or b"{}"))
                    except ValueError:
                        self._described(m.group(1), {})
                if request.path.rstrip("/").endswith("/composite/batch") and response.status < 300:
                    self._batch(request.body, response.body)
            return response

        app.handle = handle

    def _described(self, sobject: str, desc: Any) -> None:
        self.described.add(sobject)
        desc = desc if isinstance(desc, dict) else {}
        names = {f.get("name") for f in desc.get("fields") or [] if isinstance(f, dict)}
        if "IsDeleted" in names and desc.get("replicateable", True):
            self.deletable.add(sobject)

    def _batch(self, request_body: bytes, response_body: bytes) -> None:
        """The describes answered inside a Composite Batch request."""
        try:
            subs = json.loads(request_body or b"{}").get("batchRequests") or []
            results = json.loads(response_body or b"{}").get("results") or []
        except (ValueError, AttributeError):
            return
        for sub, result in zip(subs, results, strict=False):
            url = sub.get("url", "") if isinstance(sub, dict) else ""
            m = re.search(r"sobjects/([^/?]+)/describe", url)
            if m and isinstance(result, dict) and result.get("statusCode", 500) < 300:
                self._described(m.group(1), result.get("result"))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.errors = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        data = sum(n for (c, _), n in counts.items() if c == DATA)
        overhead = sum(n for (c, _), n in counts.items() if c == OVERHEAD)
        kinds: dict[str, int] = {}
        for (_, kind), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])):
            kinds[kind] = kinds.get(kind, 0) + n
        return {"requests": data + overhead, "data": data, "overhead": overhead,
                "kinds": kinds, "errors": self.errors}
