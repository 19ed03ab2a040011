from booking.kit.bank import BankUnavailable, CardRefused
from booking.kit.errors import BookingError, Conflict, Forbidden, NotFound, ServiceUnavailable

# the bank's errors (booking/kit/bank.py) are payments' too
__all__ = ["BankUnavailable", "CardRefused", "EmailNotVerified", "NotPayable", "PaymentDeclined",
           "PaymentInProgress", "PaymentNotFound", "PaymentPending"]


class PaymentNotFound(NotFound):
    code = "PAYMENT_NOT_FOUND"
    default_message = "There is no such payment"


class PaymentDeclined(BookingError):
    code = "PAYMENT_DECLINED"
    http_status = 402
    # a hold stays held for another card (until it expires): nothing is said released
    default_message = "The card was declined; nothing was charged"

    REASONS = {
        "insufficient_funds": "The card was declined for insufficient funds; nothing was charged",
        "not_charged": "The bank could not take the payment; nothing was charged: please try again",
    }

    @classmethod
    def because(cls, reason):
        reason = reason or "card_declined"
        return cls(cls.REASONS.get(reason, cls.default_message), details={"reason": reason})


class PaymentInProgress(Conflict):
    code = "PAYMENT_IN_PROGRESS"
    default_message = "This payment is still being processed"


class NotPayable(Conflict):
    code = "NOT_PAYABLE"
    default_message = "This reservation cannot be paid (it is not held any more)"


class PaymentPending(ServiceUnavailable):
    code = "PAYMENT_PENDING"
    default_message = "The bank has not confirmed the payment yet; it is being checked, please look again shortly"


class EmailNotVerified(Forbidden):
    """REQUIRE_VERIFIED_EMAIL: paying needs an address the guest has verified (users keeps whether)."""
    code = "EMAIL_NOT_VERIFIED"
    default_message = ("Please verify your e-mail address before paying: open the link we sent you, "
                       "or send it again from your account page")
