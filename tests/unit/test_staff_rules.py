"""Rules behind the staff consoles: typed attributes, stock adjustments, filters, account changes."""

import datetime as dt
from decimal import Decimal

import pytest

from shop.domain.accounts import Role, User, check_account_change
from shop.domain.catalog import (
    MAX_ATTRIBUTE_DEPTH,
    attribute_rows,
    attributes_source,
    parse_attribute_rows,
    parse_attributes,
    parse_low_stock_threshold,
    parse_stock_adjustment,
    product_fields,
)
from shop.domain.errors import Conflict, InvalidInput
from shop.domain.filters import (
    DEFAULT_PAGE_SIZE,
    RowPosition,
    csv_cell,
    day_bounds,
    keyset_page,
    parse_audit_filter,
    parse_order_filter,
    parse_page_size,
    parse_row_position,
)
from shop.domain.orders import Order, OrderStatus, failed_or_cancelled_rate
from shop.services.orders import staff_actions


def args(**params):
    return {k: [v] for k, v in params.items()}


# --- attributes ---------------------------------------------------------------------------------

def test_attributes_keep_their_types_and_nesting():
    source = '{"color": "rojo", "ram_gb": 16, "weight_kg": 1.25, "wifi": true, "ports": ["usb", "hdmi"],' \
             ' "size": {"width_cm": 30, "depth": {"cm": 2}}}'
    assert parse_attributes(source) == {"color": "rojo", "ram_gb": 16, "weight_kg": 1.25, "wifi": True,
                                        "ports": ["usb", "hdmi"], "size": {"width_cm": 30, "depth": {"cm": 2}}}


def test_attributes_round_trip_through_the_edit_form():
    attributes = {"b": [1, 2], "a": {"x": False}}
    assert parse_attributes(attributes_source(attributes)) == attributes


def test_empty_attributes_are_an_empty_object():
    assert parse_attributes("  ") == {}
    assert parse_attributes("{}") == {}


@pytest.mark.parametrize("source", [
    '{"$set": 1}', '{"a.b": 1}', '{"Color": "x"}', '{"1st": 1}', '{"": 1}', '{"a": {"$gt": 1}}',
])
def test_keys_that_could_act_as_operators_or_paths_are_refused(source):
    with pytest.raises(InvalidInput):
        parse_attributes(source)


@pytest.mark.parametrize("source", [
    '["not", "an", "object"]', '"text"', '{"a": null}', '{"a": NaN}', '{"a": Infinity}',
    '{"a": [{"b": 1}]}', '{"a": [[1]]}', '{"a": 9007199254740993}', '{"a": "' + "x" * 501 + '"}',
    f'{{"a": {list(range(31))}}}', "{not json}",
])
def test_values_that_are_not_simple_typed_values_are_refused(source):
    with pytest.raises(InvalidInput):
        parse_attributes(source)


def test_nesting_is_limited():
    nested = "1"
    for level in range(MAX_ATTRIBUTE_DEPTH + 1):
        nested = f'{{"k{level}": {nested}}}'
    with pytest.raises(InvalidInput) as error:
        parse_attributes(nested)
    assert "nested" in error.value.template


def test_an_error_names_the_offending_key():
    with pytest.raises(InvalidInput) as error:
        parse_attributes('{"size": {"Width": 3}}')
    assert error.value.params["key"] == "size.Width"


def rows(*triples):
    names, types, values = zip(*triples, strict=True) if triples else ((), (), ())
    return parse_attribute_rows(list(names), list(types), list(values))


def test_the_row_editor_builds_typed_and_nested_attributes():
    assert rows(("color", "text", " rojo "), ("ram_gb", "number", "16"), ("weight_kg", "number", "1,25"),
                ("wifi", "boolean", "Sí"), ("ports", "text_list", "usb; hdmi;"), ("sizes", "number_list", "38; 39,5"),
                ("size.width_cm", "number", "30"), ("size.depth.cm", "number", "2"), ("", "text", "ignored")) == {
        "color": "rojo", "ram_gb": 16, "weight_kg": 1.25, "wifi": True, "ports": ["usb", "hdmi"],
        "sizes": [38, 39.5], "size": {"width_cm": 30, "depth": {"cm": 2}}}


@pytest.mark.parametrize("triples", [
    [("a", "number", "dieciséis")], [("a", "boolean", "quizá")], [("a", "color", "x")],
    [("a", "text", "x"), ("a", "text", "y")], [("a", "text", "x"), ("a.b", "text", "y")],
    [("a.b", "text", "x"), ("a", "text", "y")], [("A$", "text", "x")], [("Color", "text", "x"), ("color", "text", "y")],
    [("a.$gt", "text", "x")],
    [("a..b", "text", "x")], [("a.b.c.d", "text", "x")],
])
def test_the_row_editor_refuses_what_json_would_refuse_and_ambiguous_rows(triples):
    with pytest.raises(InvalidInput):
        rows(*triples)


def test_rows_and_attributes_round_trip():
    attributes = {"color": "rojo", "ram_gb": 16, "weight_kg": 1.25, "wifi": False, "ports": ["usb", "hdmi"],
                  "sizes": [38, 39.5], "size": {"width_cm": 30, "depth": {"cm": 2}}, "tags": []}
    assert rows(*attribute_rows(attributes)) == attributes


@pytest.mark.parametrize("attributes", [{"mixed": [1, "a"]}, {"empty": {}}, {"semi": ["a;b"]}, {"flags": [True]}])
def test_values_a_row_cannot_hold_send_the_product_to_the_json_editor(attributes):
    assert attribute_rows(attributes) is None


# --- product fields and stock --------------------------------------------------------------------

def test_a_price_may_be_written_with_a_decimal_comma():
    assert product_fields("Lámpara", "Hogar", "19,99", {})["price"] == Decimal("19.99")


@pytest.mark.parametrize("price", ["", "abc", "-1", "1e400", "NaN"])
def test_bad_prices_are_refused(price):
    with pytest.raises(InvalidInput):
        product_fields("Lámpara", "Hogar", price, {})


@pytest.mark.parametrize("raw, expected", [("5", 5), ("+10", 10), ("-2", -2), (" 3 ", 3)])
def test_stock_adjustments_are_signed_whole_numbers(raw, expected):
    assert parse_stock_adjustment(raw, "delivery") == (expected, "delivery")


@pytest.mark.parametrize("raw, reason", [("0", "x"), ("1.5", "x"), ("abc", "x"), ("5", ""), ("5", "  "),
                                         ("5", "x" * 201), ("99999999", "x"), (["5"], "x")])
def test_stock_adjustments_need_a_non_zero_amount_and_a_reason(raw, reason):
    with pytest.raises(InvalidInput):
        parse_stock_adjustment(raw, reason)


def test_the_low_stock_threshold_defaults_and_is_bounded():
    assert parse_low_stock_threshold(None, 5) == 5
    assert parse_low_stock_threshold("0", 5) == 0
    with pytest.raises(InvalidInput):
        parse_low_stock_threshold("-1", 5)


# --- filters ---------------------------------------------------------------------------------------

def test_an_order_filter_takes_exact_values():
    order_filter = parse_order_filter(args(status="paid", email=" Ana@Example.com ", order="#17",
                                           **{"from": "2026-11-01", "to": "2026-11-27"}))
    assert (order_filter.status, order_filter.email, order_filter.order_id) == (OrderStatus.PAID, "ana@example.com", 17)
    assert day_bounds(order_filter.start, order_filter.end) == (
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 28, tzinfo=dt.UTC))


@pytest.mark.parametrize("params", [
    {"status": "lost"}, {"order": "abc"}, {"order": "0"}, {"from": "27/11/2026"},
    {"from": "2026-11-27", "to": "2026-11-01"}, {"after": "0"}, {"before": "x" * 900},
])
def test_bad_order_filters_are_refused(params):
    with pytest.raises(InvalidInput):
        parse_order_filter(args(**params))


def test_a_list_position_round_trips_through_its_link():
    at = dt.datetime(2026, 11, 30, 9, 15, 2, 123456, tzinfo=dt.UTC)
    position = RowPosition("orders", 1234, at)
    assert parse_row_position(position.token(), "orders") == position
    assert parse_order_filter(args(after=position.token())).after == position
    assert parse_row_position(RowPosition("audit", 9).token(), "audit") == RowPosition("audit", 9)


def _token(value) -> str:
    import base64
    import json
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("value", [
    ["payments", 3, "2026-11-30T09:00:00+00:00"],  # another list's position
    ["orders", 3, ""], ["orders", "3", "2026-11-30T09:00:00+00:00"], ["orders", True, "2026-11-30T09:00:00+00:00"],
    ["orders", 0, "2026-11-30T09:00:00+00:00"], ["orders", 2**60, "2026-11-30T09:00:00+00:00"],
    ["orders", 3, "2026-11-30T09:00:00"],  # no time zone
    ["orders", 3, "tomorrow"], ["orders", 3, "9999-12-31T00:00:00+00:00"], {"$gt": 1}, ["orders", 3],
])
def test_a_forged_list_position_is_refused(value):
    with pytest.raises(InvalidInput):
        parse_row_position(_token(value), "orders")
    with pytest.raises(InvalidInput):
        parse_order_filter(args(after="AAAA", before="AAAA"))  # both directions at once


def _rows(*ids):
    return [{"id": n} for n in ids]


def _position(row):
    return RowPosition("audit", row["id"])


def test_a_keyset_page_links_to_the_pages_beside_it():
    first = keyset_page(_rows(9, 8, 7), per_page=2, after=None, before=None, position_of=_position,
                        total=9, total_is_exact=True)
    assert [r["id"] for r in first.items] == [9, 8] and first.next_position == _position({"id": 8})
    assert not first.has_previous and first.previous_position is None
    last = keyset_page(_rows(2, 1), per_page=2, after=_position({"id": 3}), before=None, position_of=_position,
                       total=9, total_is_exact=True)
    assert not last.has_next and last.previous_position == _position({"id": 2})
    # read backwards from a position: oldest first, turned around, and there is a next page
    back = keyset_page(_rows(4, 5, 6), per_page=2, after=None, before=_position({"id": 3}), position_of=_position,
                       total=9, total_is_exact=True)
    assert [r["id"] for r in back.items] == [5, 4] and back.has_previous and back.next_position == _position({"id": 4})


def test_a_repeated_parameter_is_refused():
    with pytest.raises(InvalidInput):
        parse_order_filter({"status": ["paid", "pending"]})


def test_an_audit_filter_round_trips_through_its_query_string():
    audit_filter = parse_audit_filter(args(actor="3", action="order.placed", target="order:17", to="2026-11-27"))
    assert parse_audit_filter(args(**audit_filter.as_args())) == audit_filter


def test_an_audit_actor_is_a_user_number_or_an_e_mail():
    assert parse_audit_filter(args(actor="12")).actor_id == 12
    by_email = parse_audit_filter(args(actor=" Ana@Example.com"))
    assert (by_email.actor_id, by_email.actor_email) == (None, "ana@example.com")
    assert by_email.as_args() == {"actor": "ana@example.com"}


@pytest.mark.parametrize("params", [
    {"action": "order.*"}, {"action": "$where"}, {"actor": "not@an"}, {"target": "order"}, {"target": "order:{$gt:1}"},
    {"actor": "x"}, {"actor": "-1"},
])
def test_audit_filters_never_carry_patterns_or_operators(params):
    with pytest.raises(InvalidInput):
        parse_audit_filter(args(**params))


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM", "'@SUM"),
    ("order:1", "order:1"), (None, ""), (7, "7"),
])
def test_csv_cells_never_start_a_spreadsheet_formula(value, expected):
    assert csv_cell(value) == expected


# --- accounts and orders -------------------------------------------------------------------------

def test_staff_cannot_change_their_own_account():
    admin = User(1, "a@example.com", "Ana", Role.ADMIN, True)
    with pytest.raises(Conflict):
        check_account_change(admin, admin)
    check_account_change(admin, User(2, "b@example.com", "Bea", Role.ADMIN, True))


def test_the_problem_rate_counts_failed_and_cancelled_among_decided_orders():
    assert failed_or_cancelled_rate({}) is None
    assert failed_or_cancelled_rate({"placing": 3}) is None
    assert failed_or_cancelled_rate({"paid": 6, "failed": 1, "cancelled": 1, "pending": 2, "placing": 5}) == 0.2


@pytest.mark.parametrize("status, expected", [
    (OrderStatus.PENDING, ("paid", "cancel")), (OrderStatus.PAID, ("shipped",)), (OrderStatus.SHIPPED, ()),
    (OrderStatus.CANCELLED, ()), (OrderStatus.FAILED, ()), (OrderStatus.PLACING, ()),
])
def test_staff_actions_follow_the_order_lifecycle(status, expected):
    assert staff_actions(_order(status)) == expected


def _order(status: OrderStatus, shipped_at=None) -> Order:
    return Order(7, user_id=1, status=status, total_amount=Decimal("10.00"), shipped_at=shipped_at,
                 created_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def test_a_partly_refunded_order_ships_once():
    assert staff_actions(_order(OrderStatus.PARTIALLY_REFUNDED)) == ("shipped",)
    shipped = _order(OrderStatus.PARTIALLY_REFUNDED, shipped_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert staff_actions(shipped) == ()
    with pytest.raises(Conflict, match="already been shipped"):
        shipped.check_can_become(OrderStatus.SHIPPED)


def test_shipping_needs_a_carrier_and_a_plain_tracking_number():
    from shop.domain.orders import parse_shipment

    assert parse_shipment("  Correos  Express ", " PK-1234.ES ") == ("Correos Express", "PK-1234.ES")
    for carrier, tracking in (("", "PK1234"), ("C", "PK1234"), ("Correos", ""), ("Correos", "ab"),
                              ("Correos", "<script>"), ("Correos", "x" * 61), ("Co\x00rreos", "PK1234")):
        with pytest.raises(InvalidInput):
            parse_shipment(carrier, tracking)


def test_the_rows_per_page_are_one_of_the_offered_sizes_written_plainly():
    assert parse_page_size({}) == DEFAULT_PAGE_SIZE == 20
    assert parse_page_size({"per_page": [" 100 "]}) == 100 and parse_page_size({"per_page": [""]}) == 20
    for raw in (["0"], ["21"], ["050"], ["５０"], ["50", "100"], ["1e2"]):
        with pytest.raises(InvalidInput):
            parse_page_size({"per_page": raw})
    assert parse_order_filter({"per_page": ["50"]}).per_page == 50


@pytest.mark.parametrize("source", ['{"nota": "a\\u0000b"}', '{"lista": ["ok", "\\u0000"]}',
                                    '{"medio": "\\ud800"}', '{"anidado": {"texto": "x\\u0000"}}'])
def test_attribute_text_a_database_cannot_store_is_refused_naming_the_attribute(source):
    with pytest.raises(InvalidInput, match="cannot be saved"):
        parse_attributes(source)
