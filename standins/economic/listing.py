"""Reading: one document by its number, or a page of a collection (`skippages`, `pagesize`, `filter`,
`sort`) with e-conomic's `pagination` links."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from standins.economic.agreement import Agreement
from standins.economic.filters import FilterError, SortError, matches, parse_filter, parse_sort, sort_documents
from standins.economic.resources import Resource
from standins.economic.schemas import _filterable, _schema, _sortable
from standins.economic.wire import (
    DEFAULT_PAGE_SIZE,
    DOES_NOT_EXIST,
    MAX_PAGE_SIZE,
    SCHEMA_REFUSED,
    _Answer,
    _error_body,
)


class _Listing:
    """`GET` of one document or of a collection: filter, sort, pages and the pagination links."""

    schema_dir: Path
    base_url: str

    # --- GET ------------------------------------------------------------------------------------

    def _get(
        self, agreement: Agreement, resource: Resource, key: str | None, path: str, query: dict[str, str]
    ) -> _Answer:
        store: dict[Any, dict[str, Any]] = getattr(agreement, resource.attribute)
        if key is not None:
            number: Any = key
            if not resource.string_key:
                try:
                    number = int(key)
                except ValueError:
                    number = None
            document = store.get(number)
            if document is None:
                return _Answer(
                    404, body=_error_body(404, f"No {resource.number_field} {key} in {resource.path}.", DOES_NOT_EXIST)
                )
            return _Answer(200, body=copy.deepcopy(document))
        try:
            skip = int(query.get("skippages", "0"))
            size = int(query.get("pagesize", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            return _Answer(400, body=_error_body(400, "skippages and pagesize must be whole numbers.", SCHEMA_REFUSED))
        if skip < 0 or not 1 <= size <= MAX_PAGE_SIZE:
            return _Answer(
                400,
                body=_error_body(400, f"pagesize must be 1-{MAX_PAGE_SIZE} and skippages at least 0.", SCHEMA_REFUSED),
            )
        documents = [store[k] for k in sorted(store)]
        if resource.path == "/layouts":
            # economic-schemas/layouts.layoutNumber.get.schema.json, `deleted`: "Layouts with this flag
            # set will not appear in the collection of layouts" (one by its number still answers).
            documents = [d for d in documents if not d.get("deleted")]
        filter_text = query.get("filter")
        sort_text = query.get("sort")
        if sort_text:
            sortable = _sortable(self._collection_items(resource))
            try:
                documents = sort_documents(documents, parse_sort(sort_text, sortable))
            except SortError as error:
                return _Answer(
                    400,
                    body=_error_body(
                        400,
                        "Could not parse query string sort.",
                        "E00002",
                        "Sorting on collections can be done using the querystring parameter 'sort': sort=name, or "
                        "sort=-name for descending, on the properties in allowedSortingFields.",
                        errors=[str(error)],
                        allowedSortingFields=sortable,
                    ),
                )
        if filter_text:
            allowed = _filterable(self._collection_items(resource))
            try:
                node = parse_filter(filter_text, allowed)
            except FilterError as error:
                return _Answer(
                    400,
                    body=_error_body(
                        400,
                        "Could not parse query string filter.",
                        "E00002",
                        "Filtering on collections can be done using the querystring parameter 'filter'.",
                        errors=[str(error)],
                        allowedFilteringFields=allowed,
                    ),
                )
            selected = [d for d in documents if matches(d, node)]
        else:
            selected = documents
        page = selected[skip * size : (skip + 1) * size]
        if resource.listed_without_lines:
            page = [{k: v for k, v in d.items() if k != "lines"} for d in page]
        last = max(0, math.ceil(len(selected) / size) - 1)

        def link(n: int) -> str:
            params: dict[str, str | int] = {"skippages": n, "pagesize": size}
            if filter_text:
                params["filter"] = filter_text
            if sort_text:
                params["sort"] = sort_text
            return f"{self.base_url}{path}?{urlencode(params)}"

        pagination: dict[str, Any] = {
            "skipPages": skip,
            "pageSize": size,
            "maxPageSizeAllowed": MAX_PAGE_SIZE,
            "results": len(selected),
            "resultsWithoutFilter": len(documents),
            "firstPage": link(0),
        }
        if skip < last:
            pagination["nextPage"] = link(skip + 1)
        pagination["lastPage"] = link(last)
        return _Answer(200, body={"collection": copy.deepcopy(page), "pagination": pagination, "self": link(skip)})

    def _collection_items(self, resource: Resource) -> dict[str, Any]:
        """The schema of one document in the resource's collection listing (`<schema>.get`)."""
        items: dict[str, Any] = _schema(self.schema_dir, f"{resource.schema}.get")["properties"]["collection"]["items"]
        return items
