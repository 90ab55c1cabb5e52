"""A page's address in each language: Spanish without a prefix, English under /en."""

from shop.web.languages import languages_from_path, path_in_language


def test_a_spanish_path_gets_the_english_prefix_and_loses_it_again():
    assert path_in_language("/products/p1?imagen=2", "en") == "/en/products/p1?imagen=2"
    assert path_in_language("/en/products/p1?imagen=2", "es") == "/products/p1?imagen=2"
    assert path_in_language("/en/products/p1", "en") == "/en/products/p1"
    assert path_in_language("/", "en") == "/en/"
    assert path_in_language("/en", "es") == "/"
    assert path_in_language("/en?q=taza", "es") == "/?q=taza"


def test_a_path_that_only_starts_with_the_letters_of_a_language_keeps_them():
    assert path_in_language("/envios", "en") == "/en/envios"
    assert path_in_language("/envios", "es") == "/envios"


def routed(path: str, script_name: str = "") -> dict:
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    languages_from_path(app)({"PATH_INFO": path, "SCRIPT_NAME": script_name}, None)
    return seen


def test_the_english_prefix_becomes_part_of_the_shops_root_before_routing():
    english = routed("/en/products/p1", "/tienda")
    assert (english["SCRIPT_NAME"], english["PATH_INFO"], english["shop.url_language"]) == \
        ("/tienda/en", "/products/p1", "en")
    assert routed("/en")["PATH_INFO"] == "/"
    spanish = routed("/envios")
    assert (spanish["SCRIPT_NAME"], spanish["PATH_INFO"]) == ("", "/envios") and "shop.url_language" not in spanish
