"""In development only (the mail sink runs on this machine): the messages Booking
sent, as the sink kept them under MAIL_DIR, newest first."""
from booking.devstack.mailsink import read_messages
from booking.devstack.ports import is_local
from booking.kit.errors import NotFound
from entrypoints.gateway.http import page

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
        return self.templates.render("outbox.html", session=self.session, messages=messages)

    @page("GET", "/dev/outbox/<int:number>")
    def outbox_message(self, request, number):
        messages = self._outbox()
        if number >= len(messages):
            raise NotFound("No such message")
        message = messages[number]
        body = message.get_body(("plain",))
        return self.templates.render("outbox_message.html", session=self.session, message=message,
                                     text=body.get_content() if body else "")
