"""In development only (the mail sink runs on this machine): the messages Booking
sent, as the sink kept them under MAIL_DIR, newest first; and how many events
wait in the dead-letter queues (booking/kit/deadletters.py)."""
import inspect
import logging

from booking.devstack.mailsink import read_messages
from booking.devstack.ports import is_local
from booking.kit import deadletters
from booking.kit.errors import NotFound
from booking.kit.rpc import ServiceRpc
from entrypoints.gateway.http import page

log = logging.getLogger(__name__)

SHOWN = 50


class OutboxPages:
    def _outbox(self):
        if not is_local(self.config.get("SMTP_HOST", "")):
            raise NotFound("There is no outbox here")  # a real mail server: nothing to show
        return list(reversed(read_messages(self.config.get("MAIL_DIR", "var/mail"))))[:SHOWN]

    @page("GET", "/dev/outbox")
    def outbox(self, request):
        messages = [{"number": n, "to": m["To"], "subject": m["Subject"], "date": m["Date"],
                     "attachments": [part.get_filename() for part in m.iter_attachments()]}
                    for n, m in enumerate(self._outbox())]
        return self.templates.render("outbox.html", session=self.session, messages=messages,
                                     dead_letters=self._dead_letters())

    def _dead_letters(self):
        """{service: events parked}, for the services this gateway calls and itself;
        None if the broker cannot say."""
        names = {self.name} | {dependency.target_service for _, dependency in inspect.getmembers(
            type(self), lambda value: isinstance(value, ServiceRpc))}
        try:
            with deadletters.connect(self.config) as connection:
                return {name: count for name, count in deadletters.waiting(connection, sorted(names)).items()
                        if count}
        except Exception:
            log.warning("could not count the dead letters", exc_info=True)
            return None

    @page("GET", "/dev/outbox/<int:number>")
    def outbox_message(self, request, number):
        messages = self._outbox()
        if number >= len(messages):
            raise NotFound("No such message")
        message = messages[number]
        body = message.get_body(("plain",))
        return self.templates.render("outbox_message.html", session=self.session, message=message,
                                     text=body.get_content() if body else "")
