"""What each status change of an order causes: every transition the shop makes, one by one."""

import pytest

from shop.domain.order_effects import Effects, MailKind, Reason, effects_of
from shop.domain.orders import _ALLOWED, OrderStatus

S = OrderStatus
# Every change the shop makes, with the reasons it is made for: the moves people make (_ALLOWED) and
# the ones only the checkout protocol, recovery and the expiry sweep make.
CHANGES = {
    (None, S.PLACING): {Reason.CHECKOUT_STARTED},
    (S.PLACING, S.PENDING): {Reason.PLACED},
    (S.PLACING, S.FAILED): {Reason.CHECKOUT_FAILED, Reason.ABANDONED},
    (S.PENDING, S.PAID): {Reason.PAYMENT, Reason.NOTHING_TO_PAY, Reason.PAYMENT_RECORDED},
    (S.PAID, S.SHIPPED): {Reason.SHIPPED},
    (S.PARTIALLY_REFUNDED, S.SHIPPED): {Reason.SHIPPED},
    (S.PENDING, S.CANCELLED): {Reason.CUSTOMER, Reason.STAFF, Reason.EXPIRED},
    **{(a, b): {Reason.REFUND} for a, b in _ALLOWED if b in (S.PARTIALLY_REFUNDED, S.REFUNDED)},
}
PAID = Effects(mail=MailKind.ORDER_PAID, issue_invoice=True, count_sale=True, event="order.paid")
EXPECTED = {
    (None, S.PLACING): Effects(),
    (S.PLACING, S.PENDING): Effects(mail=MailKind.ORDER_PLACED, event="order.placed"),
    (S.PLACING, S.FAILED): Effects(release_discount_use=True),  # no event: no order was ever placed
    (S.PENDING, S.PAID): PAID,
    (S.PAID, S.SHIPPED): Effects(mail=MailKind.ORDER_SHIPPED, event="order.shipped"),
    (S.PARTIALLY_REFUNDED, S.SHIPPED): Effects(mail=MailKind.ORDER_SHIPPED, event="order.shipped"),
}


def test_every_change_a_person_may_make_has_its_reasons_listed_here():
    assert set(CHANGES) >= _ALLOWED


@pytest.mark.parametrize(("change", "reason"), [(change, reason) for change, reasons in CHANGES.items()
                                                for reason in sorted(reasons)])
def test_each_change_causes_exactly_its_effects(change, reason):
    effects = effects_of(*change, reason)
    if change in EXPECTED:
        assert effects == EXPECTED[change]
    elif change[1] is S.CANCELLED:
        mail = MailKind.ORDER_EXPIRED if reason is Reason.EXPIRED else MailKind.ORDER_CANCELLED
        assert effects == Effects(mail=mail, release_discount_use=True, event="order.cancelled")
    else:  # a refund, whole or in part
        assert effects == Effects(mail=MailKind.ORDER_REFUNDED, event="order.refunded")


def test_only_a_payment_issues_an_invoice_and_counts_a_sale_and_always_both():
    for (before, after), reasons in CHANGES.items():
        for reason in reasons:
            effects = effects_of(before, after, reason)
            assert effects.issue_invoice == effects.count_sale == (after is S.PAID)


def test_the_discount_use_comes_back_only_when_the_order_will_never_be_paid():
    for (before, after), reasons in CHANGES.items():
        for reason in reasons:
            assert effects_of(before, after, reason).release_discount_use == (after in (S.FAILED, S.CANCELLED))


def test_an_expiry_mail_is_chosen_by_the_reason_code_whatever_the_text_says():
    assert effects_of(S.PENDING, S.CANCELLED, Reason.EXPIRED).mail is MailKind.ORDER_EXPIRED
    assert effects_of(S.PENDING, S.CANCELLED, Reason.STAFF).mail is MailKind.ORDER_CANCELLED


def test_every_order_mail_kind_has_a_subject_in_the_customers_language():
    from shop.web.mail_compose import ORDER_MAIL_KINDS

    caused = {effects_of(*change, reason).mail for change, reasons in CHANGES.items() for reason in reasons}
    assert caused - {None} == ORDER_MAIL_KINDS
