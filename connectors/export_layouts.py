"""The CSV layouts of advocacy-platform post exports the product recognises.

A layout maps our column names (``advocacy_platform.posts``) to the export's header names and
says how ``posted_at`` is written. A file's layout is detected from its header row: the layout
whose every required header is present (the one matching the most headers when several do).

Built in: ``gaggle`` (GaggleAMP-style) and ``social_hub`` (Social-Hub-style). More can be added,
or the built-ins overridden by name, with a JSON or YAML file named by the environment variable
``ADVOCACY_EXPORT_LAYOUTS``::

    {"my_platform": {
        "columns": {"post_id": "Share Id", "advocate_id": "Employee", "network": "Channel",
                    "posted_at": "Date", "clicks": "Clicks", "likes": "Likes",
                    "comments": "Comments", "shares": "Shares"},
        "posted_at_format": "%d/%m/%Y %H:%M",     # strptime format, or "iso"
        "timezone": "Europe/Berlin",              # of naive timestamps; default UTC
        "optional": ["advocate_email"]}}          # columns whose header may be absent

Required columns: ``post_id``, ``posted_at`` and the four counts (``clicks``, ``likes``,
``comments``, ``shares``); every other column of ``advocacy_platform.posts`` is optional.
A file matches a layout when it has the header of every required column and of every mapped
column not listed in ``optional`` (by our name or by its header name); a missing optional
column is imported as null. In the built-in layouts every non-required column is optional.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REQUIRED = ("post_id", "posted_at", "clicks", "likes", "comments", "shares")
KNOWN_COLUMNS = (
    "post_id", "advocate_id", "advocate_email", "advocate_name", "network", "category",
    "campaign", "posted_at", "url", "clicks", "likes", "comments", "shares",
)
OPTIONAL = tuple(c for c in KNOWN_COLUMNS if c not in REQUIRED)

BUILT_IN: dict[str, dict[str, Any]] = {
    "gaggle": {
        "columns": {
            "post_id": "Post ID", "advocate_id": "User ID", "advocate_email": "User Email",
            "advocate_name": "User Name", "network": "Network", "category": "Category",
            "campaign": "Campaign", "posted_at": "Shared At", "url": "Link",
            "clicks": "Clicks", "likes": "Likes", "comments": "Comments", "shares": "Reshares",
        },
        "posted_at_format": "%Y-%m-%d %H:%M:%S",
        "timezone": "UTC",
        "optional": list(OPTIONAL),
    },
    "social_hub": {
        "columns": {
            "post_id": "share_id", "advocate_id": "employee_id", "advocate_email": "employee_email",
            "advocate_name": "employee_name", "network": "channel", "category": "content_topic",
            "campaign": "campaign_name", "posted_at": "published_at", "url": "tracked_url",
            "clicks": "link_clicks", "likes": "reactions", "comments": "comments",
            "shares": "reshares",
        },
        "posted_at_format": "iso",
        "timezone": "UTC",
        "optional": list(OPTIONAL),
    },
}


class LayoutError(ValueError):
    """The user's layout file is unreadable or a layout in it is incomplete."""


def load_layouts(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The built-in layouts plus those of ``ADVOCACY_EXPORT_LAYOUTS`` (same name = replaced)."""
    env = os.environ if env is None else env
    layouts = copy.deepcopy(BUILT_IN)
    path = env.get("ADVOCACY_EXPORT_LAYOUTS")
    if path:
        layouts.update(_read_user_file(Path(path).expanduser()))
    return layouts


def _read_user_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LayoutError(f"ADVOCACY_EXPORT_LAYOUTS: cannot read {path} ({exc.strerror})") from exc
    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - JSON and YAML raise different errors
        raise LayoutError(f"ADVOCACY_EXPORT_LAYOUTS: {path} is not valid "
                          f"{'YAML' if path.suffix.lower() in ('.yml', '.yaml') else 'JSON'}: {exc}"
                          ) from exc
    if not isinstance(data, dict):
        raise LayoutError(f"ADVOCACY_EXPORT_LAYOUTS: {path} must map layout names to layouts")
    out = {}
    for name, layout in data.items():
        out[str(name)] = validate(str(name), layout)
    return out


def validate(name: str, layout: Any) -> dict[str, Any]:
    if not isinstance(layout, dict) or not isinstance(layout.get("columns"), dict):
        raise LayoutError(f"export layout {name!r}: needs a 'columns' mapping")
    columns = {str(k): str(v) for k, v in layout["columns"].items()}
    unknown = sorted(set(columns) - set(KNOWN_COLUMNS))
    if unknown:
        raise LayoutError(f"export layout {name!r}: unknown column(s) {', '.join(unknown)}; "
                          f"known: {', '.join(KNOWN_COLUMNS)}")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise LayoutError(f"export layout {name!r}: must map {', '.join(missing)}")
    return {
        "columns": columns,
        "posted_at_format": str(layout.get("posted_at_format") or "iso"),
        "timezone": str(layout.get("timezone") or "UTC"),
        "optional": [str(c) for c in layout.get("optional") or []],
    }


def needed_headers(layout: Mapping[str, Any]) -> list[str]:
    """The headers a file must have to be read with ``layout``: those of the required columns
    and of every mapped column not listed as optional (by our name or its header name)."""
    optional = set(layout.get("optional") or [])
    return [h for ours, h in layout["columns"].items()
            if ours in REQUIRED or not (ours in optional or h in optional)]


def detect(header: list[str], layouts: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The name of the layout a header row belongs to, or None."""
    present = {h.strip().lstrip("\ufeff") for h in header}
    best: tuple[int, str] | None = None
    for name, layout in layouts.items():
        needed = needed_headers(layout)
        if all(h in present for h in needed):
            score = sum(1 for h in layout["columns"].values() if h in present)
            if best is None or score > best[0]:
                best = (score, name)
    return best[1] if best else None
