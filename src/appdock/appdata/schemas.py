"""REST shapes of app properties and linker values."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from appdock.connect.descriptor import Linker
from appdock.models import AppLinkerValue


class PropertyBody(RootModel[dict[str, Any]]):
    """Any JSON object; ``_attributes`` may list ``public`` and ``read_only``."""


class LinkerValueCreate(BaseModel):
    type: Literal["linker_value"] = "linker_value"
    value: str = Field(min_length=1, max_length=255)


class LinkerValuesReplace(RootModel[list[LinkerValueCreate]]):
    """The complete new list of a linker's values."""


class LinkerValueRead(BaseModel):
    type: Literal["linker_value"] = "linker_value"
    id: int
    value: str


class LinkerRead(BaseModel):
    type: Literal["addon_linker"] = "addon_linker"
    key: str
    regex: str
    url: str
    linker_type: str


def linker_value_read(row: AppLinkerValue) -> LinkerValueRead:
    return LinkerValueRead(id=row.id, value=row.value)


def linker_read(linker: Linker) -> LinkerRead:
    return LinkerRead(key=linker.key, regex=linker.regex, url=linker.url, linker_type=linker.type)
