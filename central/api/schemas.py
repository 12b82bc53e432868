"""Request bodies at the HTTP edge (pydantic): a bad body answers 422 naming the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from typing_extensions import TypedDict

Text = Field(min_length=1, max_length=200)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_Body):
    id: str = Text
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=200)
    tier: str = Field(default="standard", max_length=40)
    flags: list[str] = Field(default_factory=list, max_length=20)


class ShipToIn(_Body):
    name: str = Text
    line1: str = Text
    city: str = Text
    postcode: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern="^[A-Z]{2}$")


class LineIn(_Body):
    sku: str = Text
    qty: int = Field(gt=0, le=100_000)


class OrderIn(_Body):
    """``POST /v1/orders``."""

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$")
    warehouse: str | None = Field(default=None, max_length=80)
    customer: CustomerIn
    ship_to: ShipToIn
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    deadline: AwareDatetime
    service: str | None = Field(default=None, max_length=40)
    tags: list[str] = Field(default_factory=list, max_length=20)


class RegionIn(_Body):
    country: str | None = Field(default=None, min_length=2, max_length=2)
    postcode_prefix: str | None = Field(default=None, max_length=20)


class DisruptionIn(_Body):
    """``POST /v1/disruptions``."""

    id: str = Text
    kind: str = Field(min_length=1, max_length=40)
    region: RegionIn | None = None
    carrier: str | None = Field(default=None, max_length=80)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    escalate_by: int = Field(default=1, ge=0, le=3)

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime, info: Any) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and value <= start:
            raise ValueError("must be after starts_at")
        return value


class WarehouseIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Text
    name: str = Field(default="", max_length=200)
    country: str = Field(min_length=2, max_length=2)
    postcode: str = Field(default="", max_length=20)
    timezone: str = Field(default="UTC", max_length=60)
    transfer_hours: dict[str, float] = Field(default_factory=dict)


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    warehouse: str = Text
    code: str = Text
    zone: str = Field(default="", max_length=40)
    aisle: int = Field(default=0, ge=0)
    bay: int = Field(default=0, ge=0)
    level: int = Field(default=0, ge=0)
    kind: Literal["pick", "reserve", "dock", "pack"] = "pick"


class SkuIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    sku: str = Text
    gtin: str = Field(default="", max_length=14)
    name: str = Field(default="", max_length=200)
    category: str = Field(default="general", max_length=40)
    flags: list[str] = Field(default_factory=list)
    weight_g: int = Field(default=0, ge=0)
    dims_mm: tuple[int, int, int] = (0, 0, 0)
    reorder_point: int = Field(default=0, ge=0)


class StockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warehouse: str = Text
    location: str = Text
    sku: str = Text
    qty: int = Field(gt=0)
    lot: str = Field(default="", max_length=40)
    expiry: date | None = None


class CarrierIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Text
    carrier: str = Field(default="", max_length=80)
    service: str = Field(default="", max_length=80)
    transit_hours: float = Field(ge=0)
    cutoff: str = Field(default="17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    cost: float = Field(default=0.0, ge=0)
    countries: list[str] = Field(default_factory=list)
    max_weight_g: int = Field(default=31_500, gt=0)
    local_postcode_prefixes: list[str] = Field(default_factory=list)


class MasterDataIn(_Body):
    """``POST /v1/masterdata`` (and ``rushline central import``)."""

    warehouses: list[WarehouseIn] = Field(default_factory=list)
    locations: list[LocationIn] = Field(default_factory=list)
    skus: list[SkuIn] = Field(default_factory=list)
    stock: list[StockIn] = Field(default_factory=list)
    carriers: list[CarrierIn] = Field(default_factory=list)


# The push body is read by msgspec on the way in (a 500-op push in about half of
# pydantic's time) and by pydantic when msgspec refuses it: pydantic's lax rules may
# still accept it (``"seq": "7"``), and its errors make the 422. Each reads only its own
# constraint of a field below, so the two check the same thing.
_Text40 = Annotated[
    str, Field(min_length=1, max_length=40), msgspec.Meta(min_length=1, max_length=40)
]
_Text80 = Annotated[
    str, Field(min_length=1, max_length=80), msgspec.Meta(min_length=1, max_length=80)
]


class OpIn(TypedDict):
    """One device operation; its ``data`` is checked when applied (a bad op is rejected
    and acknowledged, so it is never retried forever)."""

    op_id: _Text80
    seq: Annotated[int, Field(ge=1), msgspec.Meta(ge=1)]
    kind: _Text40
    at: _Text40
    data: dict[str, Any]


class PushIn(TypedDict):
    """``POST /v1/sync/push``; validated straight from the raw bytes (no per-op objects)."""

    device: _Text80
    ops: list[OpIn]


PUSH = TypeAdapter(PushIn)
_FAST_PUSH = msgspec.json.Decoder(PushIn)


def read_push(body: bytes) -> PushIn:
    """The push in ``body``; pydantic's ``ValidationError`` when it is not one."""
    try:
        return _FAST_PUSH.decode(body)
    except msgspec.MsgspecError:
        return PUSH.validate_json(body)
