"""The booking pages of the web UI: book, pay, see the confirmation, cancel.
Forms work without JavaScript; every form carries the session's CSRF token and
an idempotency key made when the form was shown, so a double submit books once."""
import uuid
from urllib.parse import urlencode

from werkzeug.utils import redirect

from booking.kit.errors import BookingError
from booking.payments.schemas import CardSchema
from entrypoints.gateway.http import form_fields, page, pdf_response
from entrypoints.gateway.routes.bookings import card_token

HOLD_FIELDS = ("room_type", "check_in", "check_out", "guests", "idempotency_key")
CARD_FIELDS = tuple(CardSchema().fields) + ("idempotency_key",)
TEST_CARDS = [("4242 4242 4242 4242", "succeeds"), ("4000 0000 0000 0002", "is declined"),
              ("4000 0000 0000 9995", "is declined: insufficient funds"),
              ("4000 0000 0000 0119", "makes the bank fail")]


def new_key():
    return uuid.uuid4().hex


class BookingPages:
    def _login_first(self, request):
        return redirect(f"/login?next={request.full_path.rstrip('?')}", code=303)

    @page("POST", "/hotels/<int:hotel_id>/book")
    def book(self, request, hotel_id):
        if not self.session.logged_in:  # back to the hotel page once logged in
            stay = {key: request.form.get(key, "") for key in ("check_in", "check_out", "guests")}
            return redirect(f"/login?{urlencode({'next': f'/hotels/{hotel_id}?{urlencode(stay)}'})}", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, HOLD_FIELDS)
        try:
            reservation = self.reservations.hold(hotel_id=hotel_id, **form)
        except BookingError as refused:
            return self.templates.render("message.html", session=self.session, status=refused.http_status,
                                         title="We could not hold that room", message=refused.message,
                                         back=f"/hotels/{hotel_id}")
        return redirect(f"/bookings/{reservation['id']}", code=303)

    @page("GET", "/bookings")
    def my_bookings(self, request):
        if not self.session.logged_in:
            return self._login_first(request)
        return self.templates.render("bookings.html", session=self.session,
                                     reservations=self.reservations.list_mine())

    @page("GET", "/bookings/<string:reservation_id>")
    def booking(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        return self._booking_page(reservation_id)

    def _booking_page(self, reservation_id, error=None, status=200):
        # both at once: the page waits for the slower, not for the sum
        pending = self.payments.for_reservation.call_async(reservation_id)
        reservation = self.reservations.get(reservation_id)
        paid = any(payment["status"] == "succeeded" for payment in pending.result())
        return self.templates.render(
            "booking.html", session=self.session, reservation=reservation, paid=paid, error=error,
            status=status, key=new_key(), test_cards=TEST_CARDS if self.config.get("SHOW_TEST_CARDS") else [])

    @page("POST", "/bookings/<string:reservation_id>/pay")
    def pay_page(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        self.session.check_csrf(request.form)
        form = form_fields(request, CARD_FIELDS)
        key = form.pop("idempotency_key", None) or new_key()
        try:
            self.payments.pay(reservation_id, card_token(self.bank, form), key)
        except BookingError as refused:
            return self._booking_page(reservation_id, error=refused.message, status=refused.http_status)
        return redirect(f"/bookings/{reservation_id}", code=303)

    @page("POST", "/bookings/<string:reservation_id>/cancel")
    def cancel_page(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        self.session.check_csrf(request.form)
        self.reservations.cancel(reservation_id)
        return redirect("/bookings", code=303)

    @page("GET", "/bookings/<string:reservation_id>/confirmation.pdf")
    def confirmation_download(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        document = self.reservations.confirmation_pdf(reservation_id)
        return pdf_response(document)
