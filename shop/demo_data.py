"""The demo catalog: 60 products in seven categories whose attributes really differ.

A few products have stock 0 ("Agotado") and 1 (the last unit), to show those cases in the UI. Each
has an SKU (its category's prefix and a number); the first T-shirt is sold in sizes, each its own
variant with its own stock, and its XL costs more.
"""

from __future__ import annotations

from decimal import Decimal

from shop.domain.variants import ProductOption, VariantDraft

_SKU_PREFIX = {"Portátiles": "POR", "Camisetas": "CAM", "Libros": "LIB", "Auriculares": "AUR", "Cafeteras": "CAF",
               "Zapatillas": "ZAP", "Móviles": "MOV"}
# The T-shirt sold in sizes: (size, stock, own price or None).
_SIZED_SHIRT = [("S", 30, None), ("M", 40, None), ("L", 35, None), ("XL", 0, "16.95")]

_LAPTOPS = [
    # name, price, stock, brand, cpu, ram, storage, screen
    ("Portátil Lenovo ThinkPad E14", "849.00", 12, "Lenovo", "Intel Core i5-1335U", 16, 512, 14.0),
    ("Portátil HP Pavilion 15", "699.99", 8, "HP", "AMD Ryzen 5 7530U", 8, 512, 15.6),
    ("Portátil Dell XPS 13", "1349.00", 3, "Dell", "Intel Core i7-1360P", 16, 1024, 13.4),
    ("Portátil ASUS Zenbook 14 OLED", "1099.00", 0, "ASUS", "Intel Core Ultra 7 155H", 16, 1024, 14.0),
    ("Portátil Acer Aspire 3", "429.00", 25, "Acer", "Intel Core i3-N305", 8, 256, 15.6),
    ("Portátil Apple MacBook Air 13 M3", "1299.00", 5, "Apple", "Apple M3", 8, 256, 13.6),
    ("Portátil MSI Katana 15", "1149.00", 1, "MSI", "Intel Core i7-13620H", 16, 1024, 15.6),
    ("Portátil Lenovo IdeaPad Slim 5", "779.00", 10, "Lenovo", "AMD Ryzen 7 7730U", 16, 512, 16.0),
    ("Portátil HP EliteBook 840", "1499.00", 4, "HP", "Intel Core i7-1365U", 32, 1024, 14.0),
    ("Portátil Microsoft Surface Laptop 5", "1199.00", 6, "Microsoft", "Intel Core i5-1245U", 8, 512, 13.5),
]

_SHIRTS = [
    # name, price, stock, size, color, material, fit
    ("Camiseta básica algodón orgánico", "14.95", 120, "M", "blanco", "algodón orgánico", "regular"),
    ("Camiseta básica algodón orgánico negra", "14.95", 80, "L", "negro", "algodón orgánico", "regular"),
    ("Camiseta técnica running", "24.90", 40, "S", "azul", "poliéster reciclado", "ajustado"),
    ("Camiseta de lino manga corta", "29.95", 15, "M", "beige", "lino", "holgado"),
    ("Camiseta estampada Sierra Nevada", "19.95", 0, "XL", "verde", "algodón", "regular"),
    ("Camiseta polo piqué", "34.50", 22, "L", "azul marino", "algodón piqué", "regular"),
    ("Camiseta térmica merino", "49.00", 1, "M", "gris", "lana merino", "ajustado"),
    ("Camiseta oversize bordada", "27.50", 30, "S", "crudo", "algodón", "holgado"),
    ("Camiseta de manga larga rayas", "22.95", 18, "XL", "rojo", "algodón", "regular"),
    ("Camiseta infantil dinosaurios", "12.50", 45, "XS", "amarillo", "algodón", "regular"),
]

_BOOKS = [
    # name, price, stock, author, isbn, pages, publisher, language, binding
    ("Cien años de soledad", "11.35", 30, "Gabriel García Márquez", "9788497592208", 496, "Debolsillo", "español", "blanda"),
    ("Don Quijote de la Mancha", "22.50", 12, "Miguel de Cervantes", "9788420412146", 1376, "Alfaguara", "español", "dura"),
    ("La sombra del viento", "10.40", 0, "Carlos Ruiz Zafón", "9788408163435", 576, "Planeta", "español", "blanda"),
    ("Rayuela", "13.95", 7, "Julio Cortázar", "9788466331906", 736, "Cátedra", "español", "blanda"),
    ("Patria", "21.90", 9, "Fernando Aramburu", "9788490663196", 648, "Tusquets", "español", "dura"),
    ("El nombre del viento", "12.95", 14, "Patrick Rothfuss", "9788401352836", 880, "Plaza & Janés", "español", "blanda"),
    ("Clean Code", "42.00", 3, "Robert C. Martin", "9780132350884", 464, "Prentice Hall", "inglés", "blanda"),
    ("Designing Data-Intensive Applications", "48.50", 1, "Martin Kleppmann", "9781449373320", 616, "O'Reilly", "inglés", "blanda"),
    ("Architecture Patterns with Python", "45.90", 5, "Harry Percival, Bob Gregory", "9781492052203", 304, "O'Reilly", "inglés", "blanda"),
    ("Sapiens. De animales a dioses", "10.95", 20, "Yuval Noah Harari", "9788499926223", 496, "Debolsillo", "español", "blanda"),
    ("El infinito en un junco", "22.90", 11, "Irene Vallejo", "9788417860790", 452, "Siruela", "español", "dura"),
    ("Pedro Páramo", "9.50", 16, "Juan Rulfo", "9788437604183", 136, "Cátedra", "español", "blanda"),
]

_HEADPHONES = [
    # name, price, stock, brand, kind, wireless, battery_hours, noise_cancelling
    ("Auriculares Sony WH-1000XM5", "349.00", 6, "Sony", "circumaurales", True, 30, True),
    ("Auriculares Bose QuietComfort Ultra", "399.95", 2, "Bose", "circumaurales", True, 24, True),
    ("Auriculares Apple AirPods Pro 2", "279.00", 15, "Apple", "intraurales", True, 6, True),
    ("Auriculares JBL Tune 520BT", "49.99", 40, "JBL", "supraurales", True, 57, False),
    ("Auriculares Sennheiser HD 560S", "179.00", 0, "Sennheiser", "circumaurales", False, 0, False),
    ("Auriculares Samsung Galaxy Buds2 Pro", "199.00", 9, "Samsung", "intraurales", True, 5, True),
    ("Auriculares Audio-Technica ATH-M50x", "159.00", 4, "Audio-Technica", "circumaurales", False, 0, False),
    ("Auriculares Xiaomi Redmi Buds 5", "39.99", 60, "Xiaomi", "intraurales", True, 10, True),
]

_COFFEE_MAKERS = [
    # name, price, stock, brand, kind, pressure_bar, capacity_l
    ("Cafetera De'Longhi Dedica EC685", "179.00", 7, "De'Longhi", "espresso", 15, 1.1),
    ("Cafetera italiana Bialetti Moka Express 6 tazas", "34.90", 50, "Bialetti", "italiana", 0, 0.3),
    ("Cafetera Nespresso Vertuo Next", "119.00", 11, "Nespresso", "cápsulas", 0, 1.1),
    ("Cafetera superautomática Philips 2200", "349.00", 1, "Philips", "superautomática", 15, 1.8),
    ("Cafetera de goteo Melitta Look V", "59.95", 13, "Melitta", "goteo", 0, 1.25),
    ("Cafetera Cecotec Power Espresso 20", "89.90", 0, "Cecotec", "espresso", 20, 1.5),
]

_SNEAKERS = [
    # name, price, stock, brand, eu_size, color, use
    ("Zapatillas Adidas Ultraboost Light", "189.95", 8, "Adidas", 42, "negro", "running"),
    ("Zapatillas Nike Pegasus 40", "129.99", 12, "Nike", 43, "azul", "running"),
    ("Zapatillas Asics Gel-Kayano 30", "179.90", 3, "Asics", 41, "gris", "running"),
    ("Zapatillas New Balance 574", "99.95", 20, "New Balance", 40, "gris", "casual"),
    ("Zapatillas Converse Chuck Taylor All Star", "69.99", 35, "Converse", 39, "blanco", "casual"),
    ("Zapatillas Salomon XT-6", "189.00", 0, "Salomon", 44, "negro", "trail"),
    ("Zapatillas Joma Top Flex sala", "44.95", 25, "Joma", 42, "rojo", "fútbol sala"),
    ("Zapatillas Merrell Moab 3", "119.00", 6, "Merrell", 45, "marrón", "senderismo"),
]

_PHONES = [
    # name, price, stock, brand, screen, storage, main_mp, front_mp, colors
    ("Móvil Samsung Galaxy S24", "899.00", 9, "Samsung", 6.2, 256, 50, 12, ["negro", "violeta", "gris"]),
    ("Móvil Apple iPhone 15", "959.00", 7, "Apple", 6.1, 128, 48, 12, ["negro", "azul", "rosa"]),
    ("Móvil Google Pixel 8", "799.00", 1, "Google", 6.2, 128, 50, 10.5, ["negro", "menta"]),
    ("Móvil Xiaomi Redmi Note 13", "229.99", 30, "Xiaomi", 6.67, 256, 108, 16, ["negro", "azul"]),
    ("Móvil Motorola Edge 40", "349.00", 0, "Motorola", 6.55, 256, 50, 32, ["negro", "verde"]),
    ("Móvil Fairphone 5", "699.00", 4, "Fairphone", 6.46, 256, 50, 50, ["negro", "azul", "transparente"]),
]


def demo_products() -> list[dict]:
    """The demo catalog as product documents (prices as strings: money is never a float)."""
    products: list[dict] = []

    def add(name, price, stock, category, attributes, description=""):
        sku = f"{_SKU_PREFIX[category]}-{sum(p['category'] == category for p in products) + 1:03d}"
        products.append({"name": name, "price": price, "stock": stock, "category": category,
                         "attributes": attributes, "description": description, "sku": sku,
                         "tax_class": "super_reduced" if category == "Libros" else "general"})  # books: 4 % IVA

    for name, price, stock, brand, cpu, ram, storage, screen in _LAPTOPS:
        add(name, price, stock, "Portátiles", {
            "marca": brand, "procesador": cpu, "ram_gb": ram, "almacenamiento_gb": storage,
            "pantalla_pulgadas": screen, "sistema_operativo": "macOS" if brand == "Apple" else "Windows 11",
            "garantia": {"meses": 36 if brand in ("Lenovo", "Dell", "HP") else 24, "tipo": "fabricante"},
        }, f"{brand} con {cpu}, {ram} GB de RAM y pantalla de {screen}\".")
    for name, price, stock, size, color, material, fit in _SHIRTS:
        add(name, price, stock, "Camisetas", {
            "talla": size, "color": color, "material": material, "corte": fit,
            "cuidados": {"lavado_max_c": 30, "secadora": False},
        })
    sized = next(p for p in products if p["category"] == "Camisetas")
    del sized["attributes"]["talla"]
    base = sized.pop("sku")
    sized.update(options=(ProductOption("Talla", tuple(size for size, _, _ in _SIZED_SHIRT)),),
                 variants=[VariantDraft(None, f"{base}-{size}", (size,), Decimal(own) if own else None, stock)
                           for size, stock, own in _SIZED_SHIRT])
    for name, price, stock, author, isbn, pages, publisher, language, binding in _BOOKS:
        add(name, price, stock, "Libros", {
            "autor": author, "isbn": isbn, "paginas": pages, "editorial": publisher,
            "idioma": language, "encuadernacion": binding,
        })
    for name, price, stock, brand, kind, wireless, battery, anc in _HEADPHONES:
        attributes: dict[str, object] = {"marca": brand, "tipo": kind, "inalambrico": wireless,
                                         "cancelacion_ruido": anc}
        if wireless:
            attributes["bateria_horas"] = battery
        add(name, price, stock, "Auriculares", attributes)
    for name, price, stock, brand, kind, pressure, capacity in _COFFEE_MAKERS:
        attributes = {"marca": brand, "tipo": kind, "capacidad_litros": capacity}
        if pressure:
            attributes["presion_bar"] = pressure
        add(name, price, stock, "Cafeteras", attributes)
    for name, price, stock, brand, eu_size, color, use in _SNEAKERS:
        add(name, price, stock, "Zapatillas", {"marca": brand, "talla_eu": eu_size, "color": color, "uso": use})
    for name, price, stock, brand, screen, storage, main_mp, front_mp, colors in _PHONES:
        add(name, price, stock, "Móviles", {
            "marca": brand, "pantalla_pulgadas": screen, "almacenamiento_gb": storage,
            "camara": {"principal_mp": main_mp, "frontal_mp": front_mp}, "colores": colors,
        })
    return products


# What the demo catalog's attributes are called, in Spanish and English (shop.domain.attribute_labels).
DEMO_ATTRIBUTE_LABELS = {
    "almacenamiento_gb": ("Almacenamiento (GB)", "Storage (GB)"), "autor": ("Autor", "Author"),
    "bateria_horas": ("Batería (h)", "Battery (h)"), "camara": ("Cámara", "Camera"),
    "cancelacion_ruido": ("Cancelación de ruido", "Noise cancelling"),
    "capacidad_litros": ("Capacidad (l)", "Capacity (l)"), "color": ("Color", "Colour"),
    "colores": ("Colores", "Colours"), "corte": ("Corte", "Fit"), "cuidados": ("Cuidados", "Care"),
    "editorial": ("Editorial", "Publisher"), "encuadernacion": ("Encuadernación", "Binding"),
    "frontal_mp": ("Frontal (MP)", "Front (MP)"), "garantia": ("Garantía", "Warranty"),
    "idioma": ("Idioma", "Language"), "inalambrico": ("Inalámbrico", "Wireless"), "isbn": ("ISBN", "ISBN"),
    "lavado_max_c": ("Lavado máximo (°C)", "Maximum wash (°C)"), "marca": ("Marca", "Brand"),
    "material": ("Material", "Material"), "meses": ("Meses", "Months"), "paginas": ("Páginas", "Pages"),
    "pantalla_pulgadas": ("Pantalla (\")", "Screen (\")"), "presion_bar": ("Presión (bar)", "Pressure (bar)"),
    "principal_mp": ("Principal (MP)", "Main (MP)"), "procesador": ("Procesador", "Processor"),
    "ram_gb": ("RAM (GB)", "RAM (GB)"), "secadora": ("Secadora", "Tumble dryer"),
    "sistema_operativo": ("Sistema operativo", "Operating system"), "talla": ("Talla", "Size"),
    "talla_eu": ("Talla (EU)", "Size (EU)"), "tipo": ("Tipo", "Type"), "uso": ("Uso", "Use"),
}
