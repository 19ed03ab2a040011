"""The pages every site has, linked from the footer of every page: help and how to
reach us, the terms, and what Booking keeps about a guest (privacy). And the
page of an address that is none of the site's: a 404 with the site's header."""
from booking.kit.errors import NotFound
from entrypoints.gateway.http import page


class InfoPages:
    def _info_page(self, template):
        return self.templates.render(template, session=self.session,
                                     support_email=self.config.get("SUPPORT_EMAIL", "support@booking.local"),
                                     hold_minutes=int(self.config.get("HOLD_SECONDS") or 900) // 60)

    @page("GET", "/help")
    def help_page(self, request):
        return self._info_page("help.html")

    @page("GET", "/terms")
    def terms_page(self, request):
        return self._info_page("terms.html")

    @page("GET", "/privacy")
    def privacy_page(self, request):
        return self._info_page("privacy.html")

    # GET only, as /api's: another method on a known route stays its 405. A worker runs,
    # so the 404 page shows the guest logged in as every page does
    @page("GET", "/<path:anything>", catch_all=True)
    def no_such_page(self, request, anything):
        raise NotFound("There is no page at this address", details={"path": request.path})
