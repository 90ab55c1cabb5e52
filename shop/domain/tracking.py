"""Where a customer follows a parcel: the public tracking page of the carriers Spanish shops use
most, found from the carrier's name as staff typed it when marking the order shipped.

The addresses are the carriers' public tracking pages as their own integrations and many shops link
them (MRW's from its official PrestaShop module); they were not opened from here, which has no
internet (docs/admin.md, "Shipping an order"). A carrier not in the table gets no link: the number
is shown as text, as before."""

from __future__ import annotations

from urllib.parse import quote

from shop.domain.listing import fold

# The carrier's name folded (no case, accents, spaces or punctuation) -> its tracking page, with {}
# where the tracking number goes. "Correos Express" is another company from Correos: no entry.
TRACKING_PAGES = {
    "correos": "https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number={}",
    "seur": "https://www.seur.com/livetracking/?segOnlineIdentificador={}",
    "mrw": "https://www.mrw.es/seguimiento_envios/MRW_historico_nacional.asp?enviament={}",
    "gls": "https://mygls.gls-spain.es/e/{}",
    "glsspain": "https://mygls.gls-spain.es/e/{}",
    "dhl": "https://www.dhl.com/es-es/home/tracking.html?tracking-id={}",
    "dhlexpress": "https://www.dhl.com/es-es/home/tracking.html?tracking-id={}",
    "dhlparcel": "https://www.dhl.com/es-es/home/tracking.html?tracking-id={}",
    "ups": "https://www.ups.com/track?tracknum={}",
}


def folded(carrier: str) -> str:
    """"SEUR", "Seur " and "GLS-Spain" as the table spells them: lower case, no accents, letters only."""
    return "".join(ch for ch in fold(carrier) if ch.isalnum())


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's page for this parcel, or None for a carrier the shop does not know."""
    if not carrier or not tracking_number:
        return None
    page = TRACKING_PAGES.get(folded(carrier))
    return page.format(quote(tracking_number.strip(), safe="")) if page else None
