"""Order rules: cart lines, the order lifecycle, and the checkout protocol's decisions.

The lifecycle (seed: pending, paid, shipped) with the states the distributed transaction needs:

    placing ──commit──▶ pending ──pay──▶ paid ──ship──▶ shipped
       │                   │               │               │
       └──abort──▶ failed  │               └──refund──┬────┘
                           │                          ▼
                           └──cancel / expire──▶ cancelled    partially_refunded ──refund──▶ refunded

`placing` is the in-flight state of the checkout protocol (docs/checkout.md). Only one party can
move an order out of it — the checkout that created it (commit or abort) or, once its lease has
expired, the recovery process (abort) — because the move is a conditional UPDATE in PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from shop.domain.accounts import Role, User
from shop.domain.catalog import Product
from shop.domain.discounts import DiscountCode
from shop.domain.errors import N_, Conflict, InvalidInput, LimitReached, Nn_
from shop.domain.invoicing import InvoiceParty
from shop.domain.shipping import ShippingMethod, ShippingSnapshot
from shop.domain.taxes import shipping_by_rate, split_tax
from shop.domain.tracking import tracking_url
from shop.domain.variants import item_ref, parse_item_ref

MAX_QUANTITY_PER_LINE = 100
MAX_LINES = 50
_QUANTITY = re.compile(r"^\s*\d{1,6}\s*$")


class OrderStatus(StrEnum):
    PLACING = "placing"
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# Which moves a person (customer or staff) may make; `placing` is moved only by the protocol.
_ALLOWED = {
    (OrderStatus.PENDING, OrderStatus.PAID),
    (OrderStatus.PAID, OrderStatus.SHIPPED),
    (OrderStatus.PENDING, OrderStatus.CANCELLED),
    # Refunds (shop.services.refunds): of a paid or shipped order, in one go or in parts; what is
    # left of a partly refunded order can still ship.
    (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED), (OrderStatus.PAID, OrderStatus.REFUNDED),
    (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_REFUNDED), (OrderStatus.SHIPPED, OrderStatus.REFUNDED),
    (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.PARTIALLY_REFUNDED),
    (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED),
    (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.SHIPPED),
}


def is_allowed(current: OrderStatus, target: OrderStatus) -> bool:
    return (current, target) in _ALLOWED


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if not is_allowed(current, target):
        raise Conflict(N_("The order is %(current)s, so it cannot be marked %(target)s."),
                       current=current, target=target)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REFUNDED = "refunded"
    ORPHANED = "orphaned"  # paid at the provider for an order that could not take it: to be refunded


@dataclass(frozen=True)
class OrderItem:
    """A line of a placed order, as sold: name, unit price (IVA included), rate and tax as they were."""
    order_item_id: int
    product_id: str
    product_name: str
    unit_price: Decimal
    quantity: int
    tax_rate: Decimal | None = None
    tax_amount: Decimal | None = None
    discount_amount: Decimal = Decimal("0.00")
    refunded_quantity: int = 0
    variant: str | None = None  # the variant's key ("v2"), None for a product without options
    sku: str | None = None
    variant_label: str | None = None  # "Talla: M", as sold

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity - self.discount_amount

    @property
    def description(self) -> str:
        """What the line sold, as orders, invoices and mails name it: "Camiseta (Talla: M)"."""
        return f"{self.product_name} ({self.variant_label})" if self.variant_label else self.product_name


@dataclass(frozen=True)
class StatusChange:
    """One line of an order's history: who moved it from what to what, and why."""
    from_status: OrderStatus | None
    to_status: OrderStatus
    created_at: dt.datetime
    changed_by: int | None = None
    changed_by_name: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Payment:
    payment_id: int
    amount: Decimal
    status: PaymentStatus
    method: str
    created_at: dt.datetime
    provider_reference: str | None = None
    card_last4: str | None = None  # payments taken before the provider's page (none since)
    decline_reason: str | None = None
    provider_order: str | None = None  # the attempt's number at the provider
    order_id: int | None = None


@dataclass(frozen=True)
class Invoice:
    series_year: int
    number: int
    issued_at: dt.datetime
    series: str = "FS"  # FS: simplified; F: full, made out to `party` (shop.domain.invoicing)
    party: InvoiceParty | None = None

    @property
    def printed_number(self) -> str:
        """How the number is printed: the series, its year, then the number."""
        return f"{self.series}-{self.series_year}-{self.number:06d}"

    @property
    def is_full(self) -> bool:
        return self.series == "F"


def credit_note_reason_code(corrected_series: str) -> str:
    """The AEAT's code of a factura rectificativa for a refund: R5 corrects a simplified invoice;
    R1 a full one, for the causes of art. 80 Uno, Dos y Seis LIVA (a return, a discount after the sale)."""
    return "R5" if corrected_series == "FS" else "R1"


@dataclass(frozen=True)
class CreditNote:
    """A factura rectificativa: issued with a refund of an invoiced order, in its own yearly series,
    correcting `invoice` by negative amounts per IVA rate (`taxes`: rate, base, IVA) that add up to
    `amount` (negative: what was given back)."""
    series_year: int
    number: int
    issued_at: dt.datetime
    refund_id: int
    invoice: Invoice
    reason_code: str
    reason: str
    amount: Decimal
    taxes: tuple[tuple[Decimal, Decimal, Decimal], ...]

    @property
    def printed_number(self) -> str:
        return f"R-{self.series_year}-{self.number:06d}"

    @property
    def tax_rows(self) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
        """(rate, base, IVA, total) per rate, negative: the lines of its IVA table."""
        return [(rate, base, tax, base + tax) for rate, base, tax in self.taxes]


@dataclass(frozen=True)
class Order:
    """A placed order (or one being placed) as PostgreSQL holds it; `items`, `history`, `payments`,
    `invoice` and `credit_notes` are filled where the reader asked for them (db.orders.get reads them
    all)."""
    order_id: int
    user_id: int
    status: OrderStatus
    total_amount: Decimal
    created_at: dt.datetime
    request_hash: str | None = None
    expires_at: dt.datetime | None = None
    failure_reason: str | None = None
    units: int = 0
    discount_code: str | None = None
    refunded_amount: Decimal = Decimal("0.00")
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: dt.datetime | None = None
    shipping: ShippingSnapshot | None = None  # None: nothing is shipped for a fee (no method chosen)
    shipping_refunded: bool = False
    stock_returned: bool = False  # a cancelled order's units are back in stock
    items: tuple[OrderItem, ...] = ()
    history: tuple[StatusChange, ...] = ()
    payments: tuple[Payment, ...] = ()
    invoice: Invoice | None = None
    credit_notes: tuple[CreditNote, ...] = ()

    @property
    def tracking_url(self) -> str | None:
        """The carrier's page for the parcel, when the carrier is one the shop knows."""
        return tracking_url(self.carrier, self.tracking_number)

    @property
    def shipping_amount(self) -> Decimal:
        """What the shipping cost (IVA included): 0,00 when free or when nothing was shipped."""
        return self.shipping.amount if self.shipping is not None else Decimal("0.00")

    @property
    def is_placing(self) -> bool:
        """Still in flight: the checkout (or recovery) has not decided it yet."""
        return self.status is OrderStatus.PLACING

    def belongs_to(self, user_id: int) -> bool:
        return self.user_id == user_id

    def visible_to(self, actor: User | None) -> bool:
        """Customers see only their own orders; staff (and the system, `None`) see every order."""
        return actor is None or actor.role is not Role.CUSTOMER or self.belongs_to(actor.user_id)

    def check_can_become(self, target: OrderStatus) -> None:
        """Raise Conflict unless a person may move the order from its status to `target`."""
        if target is OrderStatus.SHIPPED and self.shipped_at is not None:
            # A shipped order that was partly refunded is partially_refunded again, and the table
            # alone would let it ship a second time (a second mail, the tracking number overwritten).
            raise Conflict(N_("Order %(order)d has already been shipped."), order=self.order_id)
        check_transition(self.status, target)

    def may_become(self, target: OrderStatus) -> bool:
        try:
            self.check_can_become(target)
        except Conflict:
            return False
        return True

    @property
    def discount_total(self) -> Decimal:
        return sum((item.discount_amount for item in self.items), Decimal("0.00"))


@dataclass(frozen=True)
class Placing:
    """What step 1 of a checkout returns: the order, whether this call created it (False: the same
    idempotency key was used before, and this is that order), and the discount code's use it took."""
    order: Order
    created: bool
    discount: DiscountCode | None = None


class OutOfStock(Conflict):
    """Not enough units; says how many are left so the shopper can act."""

    code = "out_of_stock"


@dataclass(frozen=True)
class CartLine:
    product_id: str
    quantity: int
    variant: str | None = None  # the variant's key ("v2"); None: a product without options

    @property
    def ref(self) -> str:
        return item_ref(self.product_id, self.variant)


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    product_name: str
    unit_price: Decimal  # with IVA included, as shown
    quantity: int
    tax_rate: Decimal = Decimal("21")  # the IVA rate it is sold at, in percent
    tax_amount: Decimal | None = None  # this line's share of the order's IVA (shop.domain.taxes.split_tax)
    category: str = ""  # what a discount code's categories are matched against (not stored)
    discount_amount: Decimal = Decimal("0.00")  # taken off this line by a discount code
    variant: str | None = None  # which variant was sold ("v2"); None: a product without options
    sku: str | None = None  # its SKU as sold
    variant_label: str | None = None  # its option values as sold ("Talla: M")

    @property
    def gross(self) -> Decimal:
        """The line at its listed price: unit price × quantity, IVA included."""
        return self.unit_price * self.quantity

    @property
    def subtotal(self) -> Decimal:
        """What the line costs: its gross less its discount."""
        return self.gross - self.discount_amount


def parse_quantity(raw: object) -> int:
    """A quantity from a form or JSON: a whole number from 1 to the per-line maximum."""
    if isinstance(raw, bool):
        raise InvalidInput(N_("The quantity must be a whole number."))
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _QUANTITY.match(raw):
        value = int(raw)
    else:
        raise InvalidInput(N_("The quantity must be a whole number."))
    if value < 1:
        raise InvalidInput(N_("The quantity must be at least 1."))
    if value > MAX_QUANTITY_PER_LINE:
        raise InvalidInput(N_("You can buy at most %(max)d units of a product at once."), max=MAX_QUANTITY_PER_LINE)
    return value


def normalize_cart(lines: list[tuple[str, object]]) -> list[CartLine]:
    """Validated lines, one per product or variant (quantities of repeated ones added), in a fixed order.

    A line names a product ("5f…") or one of its variants ("5f…:v2", shop.domain.variants). The
    fixed order (by product id, then variant) is the order in which stock is reserved, so two
    checkouts that overlap on products always meet them in the same order.
    """
    if not lines:
        raise InvalidInput(N_("Your cart is empty."))
    if len(lines) > MAX_LINES:
        raise InvalidInput(N_("An order can have at most %(max)d different products."), max=MAX_LINES)
    merged: dict[tuple[str, str], int] = {}
    for raw_ref, raw_quantity in lines:
        product_id, variant = parse_item_ref(raw_ref)
        key = (product_id, variant or "")
        merged[key] = merged.get(key, 0) + parse_quantity(raw_quantity)
        if merged[key] > MAX_QUANTITY_PER_LINE:
            raise InvalidInput(N_("You can buy at most %(max)d units of a product at once."),
                               max=MAX_QUANTITY_PER_LINE)
    return [CartLine(pid, qty, variant or None) for (pid, variant), qty in sorted(merged.items())]


@dataclass(frozen=True)
class HeldUnpaid:
    """What is already held unpaid (orders being placed or waiting for payment) by one account and
    by one client address, counted under their locks at checkout."""
    account_orders: int
    account_units: int
    address_orders: int = 0
    address_units: int = 0


@dataclass(frozen=True)
class UnpaidLimits:
    """How much stock one account, and one client address, may hold in unpaid orders at once: without
    it one person can empty a product for everyone for the whole payment window. 0 means no limit."""
    orders_per_account: int = 3
    units_per_account: int = 50
    orders_per_address: int = 10
    units_per_address: int = 200

    @property
    def per_account(self) -> bool:
        return bool(self.orders_per_account or self.units_per_account)

    @property
    def per_address(self) -> bool:
        return bool(self.orders_per_address or self.units_per_address)

    def admit(self, held: HeldUnpaid, units: int) -> None:
        """Raise LimitReached when one more order of `units` would go over a limit."""
        account = ((self.orders_per_account, held.account_orders + 1),
                   (self.units_per_account, held.account_units + units))
        address = ((self.orders_per_address, held.address_orders + 1),
                   (self.units_per_address, held.address_units + units))
        if self.units_per_account and units > self.units_per_account:  # this order alone, however paid up
            raise LimitReached(Nn_("An unpaid order can hold at most %(num)d unit; ask for fewer.",
                                   "An unpaid order can hold at most %(num)d units; ask for fewer."),
                               num=self.units_per_account)
        if self.orders_per_account and held.account_orders + 1 > self.orders_per_account:
            raise LimitReached(Nn_("You already have %(num)d unpaid order. Pay or cancel it before ordering more.",
                                   "You already have %(num)d unpaid orders. Pay or cancel one of them before "
                                   "ordering more."), num=held.account_orders)
        if any(limit and wanted > limit for limit, wanted in account):
            raise LimitReached(Nn_("Your unpaid orders already hold %(num)d unit; with these you would hold more "
                                   "than %(max)d. Pay or cancel one first, or ask for fewer.",
                                   "Your unpaid orders already hold %(num)d units; with these you would hold more "
                                   "than %(max)d. Pay or cancel one first, or ask for fewer."),
                               num=held.account_units, max=self.units_per_account)
        if any(limit and wanted > limit for limit, wanted in address):
            raise LimitReached(N_("Too many unpaid orders come from your network right now. Pay or cancel one of "
                                  "yours, or try again later."))


def cart_units(cart: list[CartLine]) -> int:
    return sum(line.quantity for line in cart)


def out_of_stock(product: Product, available: int, variant: str | None = None) -> OutOfStock:
    label = product.label_of(variant)
    name = f"{product.name} ({label})" if label else product.name
    if available <= 0:
        return OutOfStock(N_("%(name)s is out of stock."), name=name)
    return OutOfStock(N_("Only %(available)d units of %(name)s are left."), available=available, name=name)


def order_total(lines: list[OrderLine]) -> Decimal:
    return sum((line.subtotal for line in lines), Decimal("0.00"))


def request_hash(cart: list[CartLine]) -> str:
    """What a checkout asked for: the same idempotency key must always mean the same cart."""
    canonical = ";".join(f"{line.ref}:{line.quantity}" for line in cart)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_idempotency_key() -> str:
    """Rendered into each checkout form: a double click or a resubmission carries the same key."""
    return str(uuid.uuid4())


def parse_idempotency_key(raw: object) -> str:
    try:
        return str(uuid.UUID(str(raw)))
    except (ValueError, TypeError):
        raise InvalidInput(N_("The checkout form is invalid; reload the page and try again.")) from None


def failed_or_cancelled_rate(status_counts: dict[str, int]) -> float | None:
    """Share of decided orders that failed at checkout or were cancelled (None: no orders yet).
    Orders still being placed are left out: their outcome is not known."""
    decided = {status: n for status, n in status_counts.items() if status != OrderStatus.PLACING.value}
    total = sum(decided.values())
    if not total:
        return None
    return (decided.get(OrderStatus.FAILED.value, 0) + decided.get(OrderStatus.CANCELLED.value, 0)) / total


def priced_lines(lines: list[OrderLine], discount: DiscountCode | None = None,
                 shipping_method: ShippingMethod | None = None, general_rate: Decimal = Decimal("21"),
                 shipping_rule: str = "follow_goods"
                 ) -> tuple[list[OrderLine], Decimal, list[tuple[Decimal, Decimal, Decimal]]]:
    """The lines less what `discount` takes off them; the shipping `shipping_method` charges on what
    is left (free above its amount), split across IVA rates by `shipping_rule` (shop.domain.taxes);
    and the IVA split over the lines and the shipping together. Returns (lines with their IVA, the
    shipping, its parts as (rate, gross, IVA))."""
    if discount is not None:
        cuts = discount.line_discounts([(line.gross, line.category) for line in lines])
        lines = [replace(line, discount_amount=cut) for line, cut in zip(lines, cuts, strict=True)]
    goods = sum((line.subtotal for line in lines), Decimal("0.00"))
    shipping = shipping_method.price_for(goods) if shipping_method is not None else Decimal("0.00")
    goods_by_rate = [(line.tax_rate, line.subtotal) for line in lines]
    shipped = shipping_by_rate(shipping, goods_by_rate, general_rate, shipping_rule)
    shares, _ = split_tax(goods_by_rate + shipped)
    taxed = [replace(line, tax_amount=share) for line, share in zip(lines, shares, strict=False)]
    parts = [(rate, gross, tax) for (rate, gross), tax in zip(shipped, shares[len(lines):], strict=True)]
    return taxed, shipping, parts


_TRACKING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{2,58}[A-Za-z0-9]$", re.ASCII)


def parse_shipment(raw_carrier: str | None, raw_tracking: str | None) -> tuple[str, str]:
    """The carrier and the tracking number "mark shipped" records: both needed, printable, short."""
    carrier = " ".join((raw_carrier or "").split())
    tracking = (raw_tracking or "").strip()
    if not 2 <= len(carrier) <= 60 or not carrier.isprintable():
        raise InvalidInput(N_("Name the carrier (2 to 60 characters), such as Correos or SEUR."))
    if not _TRACKING.match(tracking):
        raise InvalidInput(N_("The tracking number has 4 to 60 letters, digits, dashes or dots."))
    return carrier, tracking
