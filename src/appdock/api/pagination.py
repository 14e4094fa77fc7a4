"""Bitbucket's collection envelope: pagelen, page, size, values and an absolute next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from appdock.config import Settings

T = TypeVar("T")


class Paginated(BaseModel, Generic[T]):
    pagelen: int
    page: int
    size: int
    values: list[T]
    next: str | None = None
    previous: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_links(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("next", "previous"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


@dataclass(frozen=True)
class PageParams:
    page: int
    pagelen: int
    request: Request

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pagelen

    @property
    def limit(self) -> int:
        return self.pagelen

    def _url(self, page: int) -> str:
        settings: Settings = self.request.app.state.settings
        params: list[tuple[str, Any]] = [
            (k, v) for k, v in self.request.query_params.multi_items() if k != "page"
        ]
        params.append(("page", page))
        return settings.base_url + self.request.url.path + "?" + urlencode(params)

    def envelope(self, values: list[T], total: int) -> Paginated[T]:
        return Paginated[T](
            pagelen=self.pagelen,
            page=self.page,
            size=total,
            values=values,
            next=self._url(self.page + 1) if self.offset + len(values) < total else None,
            previous=self._url(self.page - 1) if self.page > 1 else None,
        )


def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    pagelen: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PageParams:
    return PageParams(page=page, pagelen=pagelen, request=request)


PageDep = Annotated[PageParams, Depends(page_params)]
