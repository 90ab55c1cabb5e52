"""Reading the catalog file (shop/domain/catalog_file.py): CSV as real files come, JSON Lines, and a
report of every bad row with its line, column and reason."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from shop.domain.catalog_file import FileReader, csv_rows, detect_format, jsonl_rows, options_with_values
from shop.domain.errors import InvalidInput
from shop.domain.filters import csv_cell

HEADER = "handle,name,category,price,option1_name,option1_value,sku,variant_price,stock\n"


def read(text: str, *, fmt: str = "csv"):
    stream = io.StringIO(text.encode("utf-8").decode("utf-8-sig"))
    reader = FileReader(csv_rows(stream) if fmt == "csv" else jsonl_rows(stream))
    products = list(reader.products())
    return products, [(e.line, e.column, e.message % e.params if e.params else e.message) for e in reader.errors]


def test_rows_of_one_handle_become_one_product_with_its_variants_and_their_stock():
    products, errors = read(HEADER + "cam,Camiseta,Ropa,\"19,90\",Talla,S,CAM-S,,2\n"
                                     "cam,Camiseta,Ropa,\"19,90\",Talla,M,CAM-M,\"24,90\",0\n"
                                     "taza,Taza,Hogar,5.00,,,TAZA-1,,7\n")
    assert errors == []
    shirt, mug = products
    assert shirt.fields["price"] == Decimal("19.90") and shirt.skus == ["CAM-S", "CAM-M"]
    assert [(v.values, v.price, v.stock) for v in shirt.variants] == [(("S",), None, 2), (("M",), Decimal("24.90"), 0)]
    assert options_with_values(shirt)[0].values == ("S", "M")
    assert mug.options == () and mug.variants[0].stock == 7 and mug.line == 4


def test_spanish_excel_files_with_a_bom_semicolons_quotes_newlines_and_accents_are_read():
    text = ("\ufeffhandle;name;category;price;sku;stock;description\n"
            'cafe;"Café ""Ñandú"", 1 kg";Café;12,50;CAF-1;3;"Tostado\nnatural; intenso"\n'
            "te;Té verde;Té;4,00;TE-1;1;\n")
    products, errors = read(text)
    assert errors == []
    assert products[0].fields["name"] == 'Café "Ñandú", 1 kg' and products[0].fields["description"] == \
        "Tostado\nnatural; intenso"
    assert products[1].line == 4  # the line a person sees in an editor, after the quoted newline


@pytest.mark.parametrize("row, column, reason", [
    ("x,X,Ropa,19.999,,,X-1,,1", "price", "at most two decimals"),
    ("x,X,Ropa,abc,,,X-1,,1", "price", "amount such as"),
    ("x,X,Ropa,5,,,X-1,,-3", "stock", "whole number"),
    ("x,X,Ropa,5,,,,,1", "sku", "An SKU has"),
    ("x,,Ropa,5,,,X-1,,1", "name", "name"),
    ("x,X,Ropa,5,Talla,,X-1,,1", "option1_value", "value for each option"),
    ("x,X,Ropa,5,,,X-1,7.123,1", "variant_price", "two decimals"),
])
def test_each_bad_row_is_reported_with_its_line_column_and_reason_and_yields_no_product(row, column, reason):
    products, errors = read(HEADER + "ok,Bien,Ropa,5,,,OK-1,,1\n" + row + "\n")
    assert [p.handle for p in products] == ["ok"]
    ((line, where, message),) = errors
    assert (line, where) == (3, column) and reason in message


def test_an_unknown_tax_class_names_its_column():
    _, errors = read("handle,name,category,price,sku,stock,tax_class\nx,X,Ropa,5,X-1,1,lujo\n")
    assert [(line, column) for line, column, _ in errors] == [(2, "tax_class")]


def test_an_sku_twice_in_the_file_and_a_handle_that_comes_back_later_are_reported():
    _, errors = read(HEADER + "a,A,R,5,,,A-1,,1\nb,B,R,5,,,a-1,,1\nc,C,R,5,,,C-1,,1\na,A,R,5,,,A-2,,1\n")
    assert [(line, column) for line, column, _ in errors] == [(3, "sku"), (5, "handle")]
    assert "line 2" in errors[0][2]


def test_product_columns_must_agree_on_every_row_of_a_product():
    _, errors = read(HEADER + "cam,Camiseta,Ropa,19.90,Talla,S,CAM-S,,1\ncam,Camiseta,Ropa,18.90,Talla,M,CAM-M,,1\n")
    assert [(line, column) for line, column, _ in errors] == [(3, "price")]


def test_two_variants_with_the_same_values_are_refused():
    _, errors = read(HEADER + "cam,C,R,5,Talla,S,CAM-S,,1\ncam,C,R,5,Talla,S,CAM-S2,,1\n")
    assert len(errors) == 1 and "same option values" in errors[0][2]


def test_a_header_without_a_required_column_or_with_an_unknown_one_is_refused_before_any_row():
    with pytest.raises(InvalidInput, match="lacks the column"):
        read("handle,name,category,price,sku\n")
    with pytest.raises(InvalidInput, match="Unknown column"):
        read("handle,name,category,price,sku,stock,colour\n")


def test_json_lines_carry_one_product_per_line_with_its_variants():
    line = ('{"handle": "cam", "name": "Camiseta", "category": "Ropa", "price": "19.90", "options": ["Talla"], '
            '"variants": [{"sku": "CAM-S", "values": ["S"], "stock": 2}, '
            '{"sku": "CAM-L", "values": ["L"], "stock": 1, "price": "24.90"}]}\n')
    products, errors = read(line + "not json\n" + '{"handle": "x"}\n', fmt="jsonl")
    assert [p.skus for p in products] == [["CAM-S", "CAM-L"]]
    assert [(n, column) for n, column, _ in errors] == [(2, ""), (3, "")]


def test_text_that_a_spreadsheet_would_run_is_written_quoted_and_read_back_as_it_was():
    assert [csv_cell(t) for t in ("=SUM(A1)", "+34 600", "-x", "@home", "Normal")] == [
        "'=SUM(A1)", "'+34 600", "'-x", "'@home", "Normal"]
    products, errors = read("handle,name,category,price,sku,stock\nx,'=HYPERLINK(1),Ropa,5,X-1,1\n")
    assert errors == [] and products[0].fields["name"] == "=HYPERLINK(1)"


def test_the_format_is_told_by_the_file_name_or_else_by_its_first_character():
    assert detect_format("catalogo.CSV", b"{") == "csv"
    assert detect_format("export.jsonl", b"h") == "jsonl"
    assert detect_format("upload", b'\xef\xbb\xbf{"handle"') == "jsonl" and detect_format("upload", b"handle") == "csv"
