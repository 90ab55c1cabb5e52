"""The catalog import and export on the real databases: idempotent by SKU, every bad row reported
before anything is written, stock set (not added) through the audited adjustment, a killed import
finished by running it again, and export → wipe → import → export giving the same file."""

from __future__ import annotations

import html
import io
import json
import re
import time
from decimal import Decimal

import pytest

from shop import failpoints
from shop.domain.listing import parse_catalog_query
from shop.services import catalog_import
from shop.services.catalog import catalog_page
from tests.conftest import csrf_token_from
from tests.integration.test_checkout_faults import run_child

HEADER = "handle,name,category,price,tax_class,option1_name,option1_value,sku,variant_price,stock\n"
CATALOG = HEADER + (
    "camiseta,Camiseta básica,Ropa,\"19,90\",general,Talla,S,CAM-S,,3\n"
    "camiseta,Camiseta básica,Ropa,\"19,90\",general,Talla,M,CAM-M,,0\n"
    "camiseta,Camiseta básica,Ropa,\"19,90\",general,Talla,XL,CAM-XL,\"21,90\",1\n"
    "libro,\"El \"\"Quijote\"\", edición de bolsillo\",Libros,9.95,super_reduced,,,LIB-1,,12\n")


def write(tmp_path, text: str, name: str = "catalogo.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(db, store, path: str, *, dry_run: bool = False, record=None, fmt: str = "csv", batch_size: int = 200):
    return catalog_import.import_catalog(db, store, lambda: catalog_import.rows_of(path, fmt), dry_run=dry_run,
                                         record=record, source="catalogo.csv", batch_size=batch_size)


def snapshot(store) -> dict:
    """Every product as stored, without what a write stamps on it (times, ids)."""
    return {doc["handle"]: {k: v for k, v in doc.items() if k not in ("_id", "created_at", "updated_at", "marked",
                                                                        "catalog_pending")}
            for doc in store.products.find({})}


def exported(store, fmt: str = "csv") -> str:
    out = io.StringIO()
    catalog_import.export_catalog(store, fmt, out)
    return out.getvalue()


def test_a_dry_run_on_an_empty_store_says_what_would_be_created_and_writes_nothing(db, store, tmp_path):
    report = run(db, store, write(tmp_path, CATALOG), dry_run=True)
    assert report.ok and report.rows == 4
    assert report.products == {"created": 2, "updated": 0, "unchanged": 0}
    assert report.variants == {"created": 4, "updated": 0, "unchanged": 0}
    assert store.products.count_documents({}) == 0


def test_importing_creates_products_with_their_variants_and_the_same_file_again_changes_nothing(db, store,
                                                                                               tmp_path):
    path = write(tmp_path, CATALOG)
    first = run(db, store, path)
    assert first.products["created"] == 2 and first.variants["created"] == 4
    shirt = store.products.find_one({"handle": "camiseta"})
    assert shirt["stock"] == 4 and [v["stock"] for v in shirt["variants"].values()] == [3, 0, 1]
    assert shirt["variants"]["v3"]["price"] == Decimal("21.90")
    book = store.products.find_one({"handle": "libro"})
    assert book["name"] == 'El "Quijote", edición de bolsillo' and book["sku"] == "LIB-1" and book["stock"] == 12
    before = snapshot(store)
    second = run(db, store, path)
    assert second.products == {"created": 0, "updated": 0, "unchanged": 2}
    assert second.variants == {"created": 0, "updated": 0, "unchanged": 4} and second.stock_changes == 0
    assert snapshot(store) == before and store.products.count_documents({}) == 2
    page = catalog_page(db, store, parse_catalog_query({"q": ["cam-xl"]}))  # indexed as it was written
    assert [p.name for p in page.listing.items] == ["Camiseta básica"]


def test_a_changed_row_updates_only_that_variant_and_stock_is_set_through_the_audited_adjustment(db, store,
                                                                                                tmp_path):
    run(db, store, write(tmp_path, CATALOG))
    before = snapshot(store)
    recorded = []
    changed = CATALOG.replace("Talla,M,CAM-M,,0", "Talla,M,CAM-M,,5").replace(",LIB-1,,12", ",LIB-1,,12")
    report = run(db, store, write(tmp_path, changed, "cambio.csv"),
                 record=lambda action, target=None, **details: recorded.append((action, details)))
    assert report.products == {"created": 0, "updated": 1, "unchanged": 1}
    assert report.variants == {"created": 0, "updated": 1, "unchanged": 3} and report.stock_changes == 1
    after = snapshot(store)
    assert after["libro"] == before["libro"]  # untouched: same revision, same everything
    assert after["camiseta"]["variants"]["v2"]["stock"] == 5 and after["camiseta"]["stock"] == 9
    assert after["camiseta"]["revision"] == before["camiseta"]["revision"]  # a stock change is not an edit
    (adjusted,) = [details for action, details in recorded if action == "stock.adjusted"]
    assert (adjusted["sku"], adjusted["before"], adjusted["after"], adjusted["delta"]) == ("CAM-M", 0, 5, 5)


def test_a_new_size_in_the_file_is_added_to_the_product_and_sizes_the_file_omits_are_kept(db, store, tmp_path):
    run(db, store, write(tmp_path, CATALOG))
    more = HEADER + "camiseta,Camiseta básica,Ropa,\"19,90\",general,Talla,L,CAM-L,,2\n"
    report = run(db, store, write(tmp_path, more, "talla-l.csv"))
    assert report.variants == {"created": 1, "updated": 0, "unchanged": 0}
    shirt = store.products.find_one({"handle": "camiseta"})
    assert [v["sku"] for v in shirt["variants"].values()] == ["CAM-S", "CAM-M", "CAM-XL", "CAM-L"]
    assert shirt["options"][0]["values"] == ["S", "M", "XL", "L"] and shirt["stock"] == 6


def test_every_bad_row_is_reported_with_its_line_and_column_and_nothing_is_written(db, store, make_product,
                                                                                   tmp_path):
    make_product(name="Taza", sku="TAZA-1")
    bad = HEADER + ("ok,Bien,Ropa,5,,,,OK-1,,1\n"
                    "iva,Mal IVA,Ropa,5,lujo,,,IVA-1,,1\n"
                    "neg,Negativo,Ropa,5,,,,NEG-1,,-2\n"
                    "dec,Decimales,Ropa,5.999,,,,DEC-1,,1\n"
                    "dup,Repetido,Ropa,5,,,,OK-1,,1\n"
                    "ajeno,Ajeno,Ropa,5,,Talla,S,TAZA-1,,1\n")
    report = run(db, store, write(tmp_path, bad))
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [(3, "tax_class"), (4, "stock"), (5, "price"), (6, "sku"),
                                                            (7, "option1_name")]
    assert store.products.count_documents({}) == 1  # only the mug that was there


def test_an_import_killed_halfway_run_again_ends_as_one_run_would_without_duplicates(db, store, servers, migrated,
                                                                                     mongo_db_name, tmp_path):
    rows = "".join(f"p{n},Producto {n},Lote,{n}.50,general,Talla,{size},P{n}-{size},,{n}\n"
                   for n in range(1, 13) for size in ("S", "M"))
    path = write(tmp_path, HEADER + rows)
    child = run_child(servers, migrated, mongo_db_name, action="import", failpoint="import.after_batch=exit",
                      path=path, batch_size=5)
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr
    assert 0 < store.products.count_documents({}) < 12  # killed after its first batch
    report = run(db, store, path, batch_size=5)
    assert report.ok and report.products["created"] + report.products["unchanged"] == 12
    assert store.products.count_documents({}) == 12
    assert sorted(doc["stock"] for doc in store.products.find({})) == sorted(2 * n for n in range(1, 13))
    assert run(db, store, path).products == {"created": 0, "updated": 0, "unchanged": 12}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_wipe_import_export_gives_the_same_file(db, store, tmp_path, fmt):
    tricky = CATALOG + "formula,=HYPERLINK(\"x\"),@Ropa,5,general,,,F-1,,0\n"
    run(db, store, write(tmp_path, tricky))
    first = exported(store, fmt)
    if fmt == "csv":
        assert "'=HYPERLINK" in first and ",'@Ropa," in first  # no formula when a spreadsheet opens it
    store.products.delete_many({})
    report = run(db, store, write(tmp_path, first, f"export.{fmt}"), fmt=fmt)
    assert report.ok and report.products["created"] == 3
    assert exported(store, fmt) == first


def test_the_command_checks_imports_and_exports(app, db, store, tmp_path):
    path = write(tmp_path, CATALOG)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["catalog-import", "--dry-run", path])
    assert dry.exit_code == 0, dry.output
    assert "Productos: se crearían 2" in dry.output and store.products.count_documents({}) == 0
    done = runner.invoke(args=["catalog-import", path])
    assert done.exit_code == 0 and store.products.count_documents({}) == 2
    bad = runner.invoke(args=["catalog-import", write(tmp_path, HEADER + "x,X,R,5,,,,X-1,,-1\n", "mal.csv")])
    assert bad.exit_code == 1 and "línea 2, columna stock" in bad.output
    out = tmp_path / "salida.jsonl"
    exported_ = runner.invoke(args=["catalog-export", "--format", "jsonl", str(out)])
    assert exported_.exit_code == 0 and len(out.read_text().splitlines()) == 2
    assert json.loads(out.read_text().splitlines()[0])["variants"][0]["sku"] == "CAM-S"


def upload(client, text: str, name: str = "catalogo.csv"):
    token = csrf_token_from(client.get("/admin/catalog/import").get_data(as_text=True))
    return client.post("/admin/catalog/import", data={"csrf_token": token, "catalog": (io.BytesIO(
        text.encode("utf-8-sig")), name)}, content_type="multipart/form-data")


def test_an_admin_sees_the_bad_rows_first_then_imports_the_corrected_file_with_progress(client, admin, store):
    refused = upload(client, HEADER + "x,X,Ropa,5,,,,X-1,,-1\n")
    page = html.unescape(client.get(refused.headers["Location"]).get_data(as_text=True))
    assert 'data-testid="import-error"' in page and "stock" in page and "import-apply" not in page
    excel = HEADER.replace(",", ";") + ("camiseta;Camiseta básica;Ropa;19,90;general;Talla;S;CAM-S;;3\n"
                                        "camiseta;Camiseta básica;Ropa;19,90;general;Talla;M;CAM-M;;0\n"
                                        "taza;Taza;Hogar;5,50;general;;;TAZA-1;;4\n")
    checked = upload(client, excel, "excel.csv")  # Spanish Excel: ";" between fields, decimal comma, a BOM
    preview_url = checked.headers["Location"]
    preview = html.unescape(client.get(preview_url).get_data(as_text=True))
    assert "Productos: se crearían 2" in preview and store.products.count_documents({}) == 0
    token = csrf_token_from(preview)
    applied = client.post(re.search(r'action="([^"]*/apply)"', preview).group(1), data={"csrf_token": token})
    assert applied.status_code == 303
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = html.unescape(client.get(preview_url).get_data(as_text=True))
        if 'data-testid="import-result"' in page:
            break
        assert 'http-equiv="refresh"' in page  # the page reloads itself while the import runs
        time.sleep(0.2)
    assert "Productos: 2 creados" in page and store.products.count_documents({}) == 2
    download = client.get("/admin/catalog/export.csv")
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    assert download.get_data(as_text=True).splitlines()[0].startswith("handle,name,category,price")


def test_images_named_in_the_file_come_from_a_zip_once_and_a_bad_one_is_reported_on_its_row(db, store, tmp_path):
    import zipfile

    from PIL import Image

    def jpeg(color) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (400, 300), color).save(out, "JPEG")
        return out.getvalue()

    archive = tmp_path / "fotos.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fotos/roja.jpg", jpeg((200, 30, 30)))
        zipped.writestr("azul.jpg", jpeg((30, 30, 200)))
        zipped.writestr("falsa.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    text = ("handle,name,category,price,option1_name,option1_value,sku,stock,image,image_alt\n"
            "cam,Camiseta,Ropa,10,Color,rojo,CAM-R,1,roja.jpg,Camiseta roja\n"
            "cam,Camiseta,Ropa,10,Color,azul,CAM-A,1,azul.jpg,Camiseta azul\n"
            "taza,Taza,Hogar,5,,,TAZA-1,2,falsa.jpg,Una taza\n")
    path = write(tmp_path, text)
    without = run(db, store, path, dry_run=True)
    assert [(e.line, e.column) for e in without.errors] == [(2, "image"), (3, "image"), (4, "image")]
    images = catalog_import.ImageFiles(str(archive))
    report = catalog_import.import_catalog(db, store, lambda: catalog_import.rows_of(path, "csv"), dry_run=False,
                                           images=images)
    assert report.images_added == 2 and [(e.line, e.column) for e in report.errors] == [(4, "image")]
    shirt = store.products.find_one({"handle": "cam"})
    assert [(image["alt"], image["variant"]) for image in shirt["images"]] == [("Camiseta roja", "v1"),
                                                                               ("Camiseta azul", "v2")]
    assert store.products.find_one({"handle": "taza"}).get("images") in (None, [])
    again = catalog_import.import_catalog(db, store, lambda: catalog_import.rows_of(path, "csv"), dry_run=False,
                                          images=images)
    assert again.images_added == 0 and len(store.products.find_one({"handle": "cam"})["images"]) == 2


def test_uploads_never_imported_are_removed_after_two_days_when_the_next_one_arrives(client, admin, app):
    import os

    folder = app.config["SHOP_SETTINGS"].data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    old, recent = folder / ("a" * 32 + ".csv"), folder / ("b" * 32 + ".csv")
    for path in (old, recent):
        path.write_text(HEADER)
    three_days_ago = time.time() - 3 * 24 * 3600
    os.utime(old, (three_days_ago, three_days_ago))
    upload(client, CATALOG)
    assert not old.exists() and recent.exists()
