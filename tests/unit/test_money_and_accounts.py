"""Money is exact; account input is validated before it reaches a database."""

from decimal import Decimal

import pytest

from shop.domain.accounts import Role, normalize_email, parse_role, validate_full_name, validate_password
from shop.domain.errors import InvalidInput
from shop.domain.money import to_money


def test_money_is_rounded_half_up_to_cents():
    assert to_money("10.005") == Decimal("10.01")
    assert to_money(Decimal("3")) == Decimal("3.00")


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        to_money(0.1)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", None])
def test_money_refuses_non_amounts(value):
    with pytest.raises(ValueError):
        to_money(value)


def test_emails_are_compared_in_lower_case():
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"


@pytest.mark.parametrize("email", ["", "ana", "ana@", "@x.es", "a b@x.es", "a@x", {"$ne": 1}, "a" * 250 + "@x.es"])
def test_invalid_emails_are_refused(email):
    with pytest.raises(InvalidInput):
        normalize_email(email)


def test_short_and_huge_passwords_are_refused():
    with pytest.raises(InvalidInput, match="at least 10"):
        validate_password("short")
    with pytest.raises(InvalidInput):
        validate_password("x" * 257)
    assert validate_password("a long enough one") == "a long enough one"


def test_names_are_trimmed_and_required():
    assert validate_full_name("  Ana   García ") == "Ana García"
    with pytest.raises(InvalidInput):
        validate_full_name("   ")


def test_roles_are_the_three_of_the_seed():
    assert {r.value for r in Role} == {"admin", "customer", "auditor"}
    with pytest.raises(InvalidInput, match="Unknown role"):
        parse_role("superuser")


def test_unpaid_limits_count_orders_and_units_per_account_and_per_address():
    import pytest

    from shop.domain.errors import LimitReached
    from shop.domain.orders import HeldUnpaid, UnpaidLimits

    limits = UnpaidLimits(orders_per_account=3, units_per_account=50, orders_per_address=10, units_per_address=200)
    limits.admit(HeldUnpaid(2, 40), units=10)
    with pytest.raises(LimitReached):
        limits.admit(HeldUnpaid(3, 3), units=1)
    with pytest.raises(LimitReached):
        limits.admit(HeldUnpaid(0, 45), units=6)
    with pytest.raises(LimitReached, match="network"):
        limits.admit(HeldUnpaid(0, 0, address_orders=10, address_units=0), units=1)
    UnpaidLimits(0, 0, 0, 0).admit(HeldUnpaid(1000, 10_000, 1000, 10_000), units=100)  # 0: no limit


def test_payment_attempt_limits_pause_at_the_limit_and_say_which_decline_paused():
    import pytest

    from shop.domain.errors import LimitReached
    from shop.domain.payments import PaymentAttemptLimits

    limits = PaymentAttemptLimits(per_order=5, per_account=10, window_minutes=15)
    limits.check(4, 9)
    for declines in ((5, 5), (0, 10)):
        with pytest.raises(LimitReached):
            limits.check(*declines)
    assert limits.locks_after(4, 4) and limits.locks_after(0, 9)
    assert not limits.locks_after(3, 8)
    PaymentAttemptLimits(0, 0, 15).check(100, 100)


def test_an_order_knows_who_may_see_it_and_where_it_may_go():
    import datetime as dt

    from shop.domain.accounts import User
    from shop.domain.errors import Conflict
    from shop.domain.orders import Order, OrderStatus

    order = Order(7, user_id=1, status=OrderStatus.PENDING, total_amount=Decimal("10.00"),
                  created_at=dt.datetime.now(dt.UTC))
    owner, stranger = (User(uid, f"u{uid}@example.com", "U", Role.CUSTOMER, True) for uid in (1, 2))
    auditor = User(3, "a@example.com", "A", Role.AUDITOR, True)
    assert order.visible_to(owner) and order.visible_to(auditor) and order.visible_to(None)
    assert not order.visible_to(stranger)
    order.check_can_become(OrderStatus.PAID)
    with pytest.raises(Conflict):
        order.check_can_become(OrderStatus.SHIPPED)  # not paid yet
    assert not order.is_placing and f"{order.status}" == "pending"  # renders as its value in templates


def test_an_unpaid_limit_names_its_real_cause_with_the_right_plural():
    from shop.domain.errors import LimitReached
    from shop.domain.orders import HeldUnpaid, UnpaidLimits

    limits = UnpaidLimits(orders_per_account=3, units_per_account=50, orders_per_address=10, units_per_address=200)
    with pytest.raises(LimitReached, match="at most 50 units; ask for fewer") as too_many:
        limits.admit(HeldUnpaid(1, 1), units=51)  # the quantity is the cause, not the order already held
    assert too_many.value.params == {"num": 50} and too_many.value.plural is not None
    with pytest.raises(LimitReached, match="^You already have 1 unpaid order. Pay or cancel it"):
        UnpaidLimits(orders_per_account=1).admit(HeldUnpaid(1, 1), units=1)
    with pytest.raises(LimitReached, match="^You already have 3 unpaid orders. Pay or cancel one"):
        limits.admit(HeldUnpaid(3, 3), units=1)
    with pytest.raises(LimitReached, match="already hold 45 units; with these you would hold more than 50"):
        limits.admit(HeldUnpaid(1, 45), units=6)
