"""A shipped order's tracking number links to the carrier's own page for the six carriers Spanish
shops use most, whatever way staff typed the carrier's name; any other carrier gets no link."""

import pytest

from shop.domain.tracking import tracking_url


@pytest.mark.parametrize(("carrier", "number", "page"), [
    ("Correos", "PK44710093ES",
     "https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number=PK44710093ES"),
    ("SEUR", "SE123456789", "https://www.seur.com/livetracking/?segOnlineIdentificador=SE123456789"),
    (" seur ", "SE123456789", "https://www.seur.com/livetracking/?segOnlineIdentificador=SE123456789"),
    ("MRW", "0123456789",
     "https://www.mrw.es/seguimiento_envios/MRW_historico_nacional.asp?enviament=0123456789"),
    ("GLS-Spain", "61234567890", "https://mygls.gls-spain.es/e/61234567890"),
    ("DHL Express", "1234567890", "https://www.dhl.com/es-es/home/tracking.html?tracking-id=1234567890"),
    ("ups", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
])
def test_a_known_carrier_links_to_its_tracking_page_for_the_number(carrier, number, page):
    assert tracking_url(carrier, number) == page


def test_the_number_goes_into_the_link_escaped():
    assert tracking_url("Correos", "PK-4471 0093/ES").endswith("tracking-number=PK-4471%200093%2FES")


@pytest.mark.parametrize("carrier", ["Correos Express", "Nacex", "Mensajero del barrio", "", None])
def test_an_unknown_carrier_gets_no_link(carrier):
    assert tracking_url(carrier, "PK44710093ES") is None


def test_no_number_no_link():
    assert tracking_url("Correos", None) is None and tracking_url("Correos", "") is None
