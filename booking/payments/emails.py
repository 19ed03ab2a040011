"""The e-mails payments sends, as (subject, text, html)."""
from html import escape


def receipt(full_name, payment):
    amount = f"{payment['amount']['amount']} {payment['amount']['currency']}"
    card = f"{payment['card']['brand'].title()} ending {payment['card']['last4']}"
    subject = f"Your receipt: {amount} for booking {payment['reservation_id']}"
    text = (
        f"Hello {full_name},\n\n"
        f"We received your payment of {amount} for booking {payment['reservation_id']}.\n\n"
        f"Card: {card}\nBank reference: {payment['bank_reference']}\nDate: {payment['created_at'][:10]}\n\n"
        "The Booking team\n"
    )
    html = (
        f"<p>Hello {escape(full_name)},</p>"
        f"<p>We received your payment of <strong>{escape(amount)}</strong> for booking "
        f"{escape(payment['reservation_id'])}.</p>"
        f"<table><tr><th align='left'>Card</th><td>{escape(card)}</td></tr>"
        f"<tr><th align='left'>Bank reference</th><td>{escape(str(payment['bank_reference']))}</td></tr>"
        f"<tr><th align='left'>Date</th><td>{escape(payment['created_at'][:10])}</td></tr></table>"
        "<p>The Booking team</p>"
    )
    return subject, text, html


def credit_note(full_name, note):
    refund = f"{note['refund']} {note['currency']}"
    subject = f"Your credit note: {refund} refunded for booking {note['reference']}"
    text = (f"Hello {full_name},\n\n{note['description']}: we refunded {refund} to your card "
            f"ending {note['card_last4']}. The credit note is attached.\n\nThe Booking team\n")
    html = (f"<p>Hello {escape(full_name)},</p><p>{escape(note['description'])}: we refunded "
            f"<strong>{escape(refund)}</strong> to your card ending {escape(note['card_last4'])}. "
            "The credit note is attached.</p><p>The Booking team</p>")
    return subject, text, html
