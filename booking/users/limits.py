"""Request limits of the account flows: requests counted per key in a window.

Counted as auth's login limits are (booking/kit/windows.py), in users' own table
because these requests are users' and a service reads no other's tables. A
password check counts as a failure until it proves right (`forget`), as a login does.

    reset asked for an address        3 per 15 minutes   (whether or not it has an account)
    reset asked from a client address 20 per 15 minutes
    verification link sent again      3 per 15 minutes, per account
    wrong current password            5 per 15 minutes, per account (changing the password or the address,
                                      deleting the account)
    data export asked for             5 per 15 minutes, per account
"""
from booking.kit.windows import CountedWindow
from booking.users.exceptions import TooManyRequests
from booking.users.models import RequestCount

LIMITS = CountedWindow(RequestCount, {"reset-email": 3, "reset-address": 20, "verification": 3, "password": 5,
                                      "export": 5}, TooManyRequests)
WINDOW = LIMITS.window
count, forget = LIMITS.count, LIMITS.forget


def key(kind, value):
    return f"{kind}:{value if value not in (None, '') else '-'}"
