"""VERI*FACTU fingerprints and QR addresses, against the worked examples of the AEAT's specifications
("Especificaciones técnicas … huella o hash de los registros de facturación" v0.1.2, and the QR
specification v0.5.0), byte for byte."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from shop.domain.verifactu import AltaRecord, AnulacionRecord, generated_at, qr_url

FIRST = "3C464DAF61ACB827C65FDA19F352A4E3BDC2C640E9E9FC4CC058073F38F12F60"
SECOND = "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97"
NEW_YEAR = dt.date(2024, 1, 1)


def test_the_first_alta_of_a_chain_has_the_specifications_fingerprint():
    record = AltaRecord("89890001K", "12345678/G33", NEW_YEAR, "F1", D("12.35"), D("123.45"), "",
                        "2024-01-01T19:20:30+01:00")
    assert record.fingerprint() == FIRST


def test_the_next_alta_chains_to_it():
    record = AltaRecord("89890001K", "12345679/G34", NEW_YEAR, "F1", D("12.35"), D("123.45"), FIRST,
                        "2024-01-01T19:20:35+01:00")
    assert record.fingerprint() == SECOND


def test_an_anulacion_chains_to_the_alta_it_follows():
    record = AnulacionRecord("89890001K", "12345679/G34", NEW_YEAR, SECOND, "2024-01-01T19:20:40+01:00")
    assert record.fingerprint() == "177547C0D57AC74748561D054A9CEC14B4C4EA23D1BEFD6F2E69E3A388F90C68"


def test_any_change_to_a_field_changes_the_fingerprint():
    base = AltaRecord("89890001K", "12345678/G33", NEW_YEAR, "F1", D("12.35"), D("123.45"), "",
                      "2024-01-01T19:20:30+01:00")
    assert AltaRecord(**{**base.__dict__, "total": D("123.46")}).fingerprint() != FIRST
    assert AltaRecord(**{**base.__dict__, "kind": "F2"}).fingerprint() != FIRST


def test_the_generation_time_is_written_in_seconds_with_its_offset():
    madrid = dt.timezone(dt.timedelta(hours=1))
    assert generated_at(dt.datetime(2024, 1, 1, 19, 20, 30, 999, tzinfo=madrid)) == "2024-01-01T19:20:30+01:00"


def test_the_qr_holds_the_cotejo_address_with_its_four_parameters_encoded():
    url = qr_url("89890001K", "12345678&G33", NEW_YEAR, D("241.40"), production=False)
    assert url == ("https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR?nif=89890001K&numserie=12345678%26G33"
                   "&fecha=01-01-2024&importe=241.40")
