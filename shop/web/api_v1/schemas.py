"""What /api/v1 reads and answers, as pydantic models: spectree validates requests (and, in
development and tests, answers) against them and writes the OpenAPI 3.1 document from them.

Money is a decimal string ("19.90", euros, IVA included), never a float. Ids are strings for
products (MongoDB ObjectIds) and integers for everything PostgreSQL numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from shop.domain.listing import MAX_CATEGORY_LENGTH, MAX_SEARCH_LENGTH
from shop.domain.orders import MAX_QUANTITY_PER_LINE

MAX_IDEMPOTENCY_KEY = 255
Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["19.90"])]
PRODUCT_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
PRODUCT_REF_PATTERN = r"^[0-9a-fA-F]{24}(:v[1-9][0-9]{0,3})?$"
ProductRef = Annotated[str, Field(pattern=PRODUCT_REF_PATTERN,
                                  description="A product id, or `product id:variant key` for one of its variants",
                                  examples=["65f0c0ffee0000000000abcd", "65f0c0ffee0000000000abcd:v2"])]
ProductId = Annotated[str, Field(pattern=PRODUCT_ID_PATTERN, examples=["65f0c0ffee0000000000abcd"])]


_NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=600, pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    """A JSON body: unknown fields refused, and no coercion (`false` is not the quantity 0)."""
    model_config = ConfigDict(extra="forbid", strict=True)


# --- errors ------------------------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem. `code` is stable (test it); `detail` is translated for people; a 500
    carries only its request id."""
    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    request_id: str
    errors: list[FieldError] | None = None


# --- auth --------------------------------------------------------------------------------------------

class TokenRequest(Strict):
    """Either an e-mail and password, or a refresh token (`grant_type: refresh_token`)."""
    grant_type: Literal["password", "refresh_token"] = "password"
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None
    refresh_token: Annotated[str, StringConstraints(max_length=200)] | None = None


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int = Field(description="Seconds the access token is valid for")
    refresh_token: str = Field(description="Used once, for a new pair; shown only here")


class LogoutRequest(Strict):
    everywhere: bool = Field(True, description="End every session and token of the account (the only kind "
                                                "of logout an access token can ask for: it is not stored)")


# --- catalog -----------------------------------------------------------------------------------------

class CatalogParams(BaseModel):
    """The catalog's filters, as the home page takes them (`attr.<name>=<value>` filters by an
    attribute; they are passed through and checked by the same rules)."""
    model_config = ConfigDict(extra="allow")
    q: Annotated[str, StringConstraints(max_length=MAX_SEARCH_LENGTH, pattern=_NO_CONTROL)] | None = Field(
        None, description="Words, any order (accents and case ignored, the last word as a prefix)")
    category: Annotated[str, StringConstraints(max_length=MAX_CATEGORY_LENGTH, pattern=_NO_CONTROL)] | None = None
    sort: Literal["name", "price_asc", "price_desc"] = "name"
    after: Cursor | None = Field(None, description="`next_cursor` of the page before")
    before: Cursor | None = Field(None, description="`previous_cursor` of the page after")
    limit: int = Field(24, ge=1, le=100)


class Image(BaseModel):
    id: str
    url: str = Field(description="The largest size; `sizes` lists the others (WebP)")
    alt: str
    width: int
    height: int
    sizes: dict[str, str]
    variant: str | None = None


class VariantOut(BaseModel):
    key: str
    sku: str
    values: dict[str, str]
    price: Money
    stock: int
    ref: ProductRef = Field(description="What to put in a cart line or an order line")


class OptionOut(BaseModel):
    name: str
    values: list[str]


class ProductSummary(BaseModel):
    id: ProductId
    name: str
    category: str
    price: Money = Field(description="Euros, IVA included; the lowest of its variants' for a product sold in options")
    stock: int
    tax_class: str
    sku: str | None
    image: Image | None
    url: str = Field(description="Its page in the shop")


class ProductDetail(ProductSummary):
    description: str
    attributes: dict[str, JsonValue] = Field(description="Free-form, as staff entered them (values may nest)")
    options: list[OptionOut]
    variants: list[VariantOut]
    images: list[Image]


class ProductPage(BaseModel):
    items: list[ProductSummary]
    total: int = Field(description="Matches in all (an estimate when `total_is_exact` is false)")
    total_is_exact: bool
    next_cursor: str | None
    previous_cursor: str | None


class Category(BaseModel):
    name: str
    products: int


class CategoryList(BaseModel):
    items: list[Category]


# --- cart and checkout -------------------------------------------------------------------------------

class CartLineIn(Strict):
    quantity: int = Field(ge=0, le=MAX_QUANTITY_PER_LINE, description="0 removes the line")


class CartLineOut(BaseModel):
    ref: ProductRef
    product_id: ProductId
    name: str
    variant: str | None
    quantity: int
    unit_price: Money
    subtotal: Money
    available: bool = Field(description="Whether the product (or its variant) is still on sale")


class Cart(BaseModel):
    lines: list[CartLineOut]
    subtotal: Money


class OrderLineIn(Strict):
    product_id: ProductRef
    quantity: int = Field(ge=1, le=MAX_QUANTITY_PER_LINE)


class InvoicePartyIn(Strict):
    """Whom a full invoice is made out to: a valid NIF, NIE or CIF (checked by its control character)."""
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    tax_id: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    address: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class CheckoutIn(Strict):
    """Lines to buy, or none to check out the whole cart (every line or none)."""
    items: list[OrderLineIn] | None = Field(None, min_length=1, max_length=100)
    discount_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    address_id: int | None = Field(None, ge=1, le=2_147_483_647)
    shipping_method_id: int | None = Field(None, ge=1, le=2_147_483_647)
    invoice: InvoicePartyIn | None = Field(None, description="A full invoice's data (required over the limit)")


class IdempotencyHeaders(BaseModel):
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
                                                      pattern=r"^[\x21-\x7e]+$")] = Field(
        alias="Idempotency-Key",
        description="Any printable ASCII text without spaces, 1 to 255 characters, chosen by the client "
                    "(a UUID is a good choice). The same key with the same body returns the first "
                    "answer; with another body it is refused (409).")


# --- orders ------------------------------------------------------------------------------------------

class OrderItemOut(BaseModel):
    product_id: ProductId
    name: str
    sku: str | None
    variant: str | None
    quantity: int
    unit_price: Money
    subtotal: Money


class TaxLine(BaseModel):
    rate: str
    base: Money
    tax: Money


OrderStatusName = Literal["placing", "pending", "paid", "shipped", "cancelled", "failed", "partially_refunded",
                          "refunded"]


class CreditNoteOut(BaseModel):
    number: str = Field(description="In the credit notes' own series, R-<year>-<number>")
    refund_id: int
    amount: Money = Field(description="Negative: what the refund gave back")
    issued_at: datetime


class OrderOut(BaseModel):
    id: int
    status: OrderStatusName
    total: Money
    refunded: Money
    discount: Money
    shipping: Money
    created_at: datetime
    pay_before: datetime | None = Field(description="A pending order is cancelled after this")
    items: list[OrderItemOut]
    taxes: list[TaxLine]
    tracking: str | None
    tracking_url: str | None = Field(None, description="The carrier's tracking page for the parcel, for Correos, "
                                                       "SEUR, MRW, GLS, DHL and UPS")
    invoice: str | None = Field(description="The invoice number, once paid")
    credit_notes: list[CreditNoteOut] = Field(default_factory=list,
                                              description="One per refund: the facturas rectificativas")
    replayed: bool | None = Field(None, description="Checkout only: this is the answer to an earlier request "
                                                     "with the same Idempotency-Key")


class RedirectOut(BaseModel):
    """Where the customer pays: open `url` (GET), or post `fields` to it as a form (POST, Redsys)."""
    url: str
    method: Literal["GET", "POST"]
    fields: dict[str, str]


class PaymentStartOut(BaseModel):
    order: OrderOut
    redirect: RedirectOut | None = Field(description="None when there was nothing to charge: the order is paid")


class OrderList(BaseModel):
    items: list[OrderOut]


# --- addresses ---------------------------------------------------------------------------------------

class AddressIn(Strict):
    """An address in Spain or another EU country. Beyond this shape, a Spanish address needs a
    province, a five-digit postal code and a nine-digit phone; another country's, the phone with its
    country code (a 400 problem says which)."""
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    street: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    city: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    province: Annotated[str, StringConstraints(max_length=80)] = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "ES"
    phone: Annotated[str, StringConstraints(max_length=30)] = ""
    default: bool = False


class AddressOut(BaseModel):
    id: int
    full_name: str
    street: str
    postal_code: str
    city: str
    province: str
    country: str
    phone: str
    default: bool


class AddressList(BaseModel):
    items: list[AddressOut]


class Created(BaseModel):
    id: int


# --- staff -------------------------------------------------------------------------------------------

class StockAdjustmentIn(Strict):
    delta: int = Field(ge=-100_000, le=100_000, description="Units to add (negative: to remove)")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    variant: Annotated[str, StringConstraints(pattern=r"^v[1-9][0-9]{0,3}$")] | None = Field(
        None, description="Required for a product sold in options")


class StockLevel(BaseModel):
    product_id: ProductId
    variant: str | None
    stock: int


class StaffListParams(BaseModel):
    """The staff lists' filters, as their pages take them (passed through and checked by the same rules)."""
    model_config = ConfigDict(extra="allow")
    after: Cursor | None = Field(None, description="`next_cursor` of the page before")


class StaffOrder(BaseModel):
    id: int
    status: OrderStatusName
    total: Money
    created_at: datetime
    customer_email: str
    customer_name: str


class StaffOrderPage(BaseModel):
    items: list[StaffOrder]
    next_cursor: str | None


class ShipmentIn(Strict):
    carrier: Annotated[str, StringConstraints(max_length=60)] = ""
    tracking: Annotated[str, StringConstraints(max_length=100)] = ""


LineId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,9}$")]


class RefundIn(Strict):
    """Units per order line (`order_item_id` → units), or `full` for everything not refunded yet
    (the shipping included); the goods go back to stock only with `goods_returned`."""
    full: bool = False
    units: dict[LineId, Annotated[int, Field(ge=0, le=10_000)]] = Field(default_factory=dict, max_length=200)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    goods_returned: bool = False


class RefundOut(BaseModel):
    refund_id: int
    amount: Money
    replayed: bool
    order: OrderOut


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    action: str
    target: str | None
    actor_id: int | None
    actor_role: str | None
    details: dict[str, JsonValue]
    hash: str = Field(description="SHA-256 chaining this entry to the one before (docs/audit.md)")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


# --- staff: the catalog and the terms of sale ----------------------------------------------------------

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CATEGORY_LENGTH)]
Description = Annotated[str, StringConstraints(max_length=5000)]
TaxClass = Literal["general", "reduced", "super_reduced"]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Stock = Annotated[int, Field(ge=0, le=1_000_000)]
Revision = Annotated[datetime, Field(strict=False, description="`revision` of the product as read: an edit "
                                                               "made by someone else since is never overwritten (409)")]
VariantKey = Annotated[str, StringConstraints(pattern=r"^v[1-9][0-9]{0,3}$")]


class StaffCatalogParams(CatalogParams):
    archived: bool = Field(False, description="List the archived products instead of those on sale")


class StaffProduct(ProductDetail):
    archived: bool = Field(description="Taken off sale; kept for the orders that reference it")
    revision: datetime | None = Field(description="Send it back with an edit (see PATCH)")


class StaffProductPage(BaseModel):
    items: list[StaffProduct]
    total: int
    total_is_exact: bool
    next_cursor: str | None
    previous_cursor: str | None


class ProductIn(Strict):
    """A new product. Sold in options? Create it, then PUT its variants."""
    name: Name
    category: CategoryName
    price: Money = Field(description="Euros, IVA included")
    description: Description = ""
    attributes: dict[str, JsonValue] = Field(default_factory=dict, description="Keys are plain identifiers; "
                                             "values text, numbers, true/false, lists or objects")
    tax_class: TaxClass = "general"
    stock: Stock = 0
    sku: Sku | None = None


class ProductPatch(Strict):
    """The fields to change; the others keep their value. Stock moves only by adjustments."""
    name: Name | None = None
    category: CategoryName | None = None
    price: Money | None = None
    description: Description | None = None
    attributes: dict[str, JsonValue] | None = None
    tax_class: TaxClass | None = None
    revision: Revision | None = None


class RemovedOut(BaseModel):
    outcome: Literal["deleted", "archived"] = Field(description="`deleted` when no order ever referenced it; "
                                                                 "otherwise `archived`: off sale, kept for its orders")


class OptionIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(min_length=1, max_length=30)


class VariantIn(Strict):
    key: VariantKey | None = Field(None, description="An existing variant's key (it keeps its stock); "
                                                     "none for a new one")
    sku: Sku
    values: dict[str, Annotated[str, StringConstraints(max_length=40)]] = Field(
        description="One value per option, by the option's name")
    price: Money | None = Field(None, description="Its own price; none: the product's")
    stock: Stock = Field(0, description="First stock of a new variant (an existing one keeps its own)")


class VariantsIn(Strict):
    """What the product is sold as: its options and one variant per combination sold (none of each:
    a product with a single SKU of its own, `sku`)."""
    options: list[OptionIn] = Field(default_factory=list, max_length=3)
    variants: list[VariantIn] = Field(default_factory=list, max_length=100)
    sku: Sku | None = None
    revision: Revision | None = None


class ImageIn(Strict):
    data: Annotated[str, StringConstraints(min_length=4, max_length=20_971_520)] = Field(
        description="The image file (JPEG, PNG or WebP, at most 15 MB), Base64-encoded")
    alt: Annotated[str, StringConstraints(max_length=200)] = Field("", description="What it shows, for screen readers")


class ImagePatch(Strict):
    alt: Annotated[str, StringConstraints(max_length=200)] | None = None
    variant: VariantKey | Literal[""] | None = Field(None, description="The variant it shows (\"\": none)")
    main: bool = Field(False, description="Make it the product's main image")


class DiscountCodeIn(Strict):
    code: Annotated[str, StringConstraints(min_length=3, max_length=32)]
    kind: Literal["percent", "fixed"]
    value: Money = Field(description="A percentage (at most 100.00) or euros")
    min_order: Money = "0.00"
    starts: Annotated[date, Field(strict=False)] | None = None
    ends: Annotated[date, Field(strict=False)] | None = Field(None, description="The first day it no longer works")
    max_uses: int | None = Field(None, ge=1, le=9_999_999)
    max_uses_per_customer: int | None = Field(None, ge=1, le=9_999_999)
    categories: list[CategoryName] = Field(default_factory=list, max_length=20)
    customer_email: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        None, description="Only this customer may use it")


class DiscountCodeOut(BaseModel):
    code: str
    kind: Literal["percent", "fixed"]
    value: Money
    min_order: Money
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None
    max_uses_per_customer: int | None
    categories: list[str]
    active: bool
    uses: int
    customer_id: int | None


class DiscountCodeList(BaseModel):
    items: list[DiscountCodeOut]


class ActiveIn(Strict):
    active: bool


class ShippingMethodIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    price: Money = Field(description="Euros, IVA included")
    free_above: Money | None = Field(None, description="Free for goods worth this or more")
    countries: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = Field(["ES"], min_length=1,
                                                                                     max_length=27)


class ShippingMethodOut(BaseModel):
    id: int
    name: str
    price: Money
    free_above: Money | None
    countries: list[str]
    active: bool


class ShippingMethodList(BaseModel):
    items: list[ShippingMethodOut]
