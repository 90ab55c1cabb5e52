"""Product images: staff add them (checked, cleaned and sized once, stored in GridFS), describe them,
choose the main one and remove them. A change of a product's images never overwrites another made
meanwhile: it applies to the list as read, or is refused with "reload"."""

from __future__ import annotations

import dataclasses

from shop.adapters.images import PreparedImage, prepare
from shop.adapters.mongo import MongoStore
from shop.demo_images import demo_image
from shop.domain.catalog import Product, check_sells, parse_product_id
from shop.domain.errors import N_, Conflict, NotFound
from shop.domain.images import MAX_ALT_LENGTH, MAX_IMAGES_PER_PRODUCT, ProductImage, parse_alt, parse_image_id
from shop.domain.variants import parse_variant_key


def _product(store: MongoStore, raw_product_id: str) -> Product:
    product = store.catalog.get(parse_product_id(raw_product_id), include_archived=True)
    if product is None:
        raise NotFound(N_("That product does not exist or is no longer sold."))
    return product


def _replace(store: MongoStore, product: Product, images: tuple[ProductImage, ...]) -> None:
    if not store.catalog.replace_images(product.product_id, product.images_rev, images):
        raise Conflict(N_("Someone changed this product's images meanwhile; reload the page and try again."))


def add_image(store: MongoStore, raw_product_id: str, data: bytes, raw_alt: object,
              variant: str | None = None) -> ProductImage:
    """A new image, last in the product's list (the first one added is the main one); `variant`: the
    variant of a product sold in options it shows."""
    product = _product(store, raw_product_id)
    alt = parse_alt(raw_alt)
    if len(product.images) >= MAX_IMAGES_PER_PRODUCT:
        raise Conflict(N_("A product can have at most %(max)d images; remove one first."), max=MAX_IMAGES_PER_PRODUCT)
    prepared = prepare(data)
    if any(image.image_id == prepared.image_id for image in product.images):
        raise Conflict(N_("This product already has that image."))
    store.images.save(prepared)
    image = ProductImage(prepared.image_id, alt, prepared.width, prepared.height, tuple(prepared.sizes), variant)
    _replace(store, product, (*product.images, image))
    return image


def _index_of(product: Product, raw_image_id: str) -> int:
    image_id = parse_image_id(raw_image_id)
    for index, image in enumerate(product.images):
        if image.image_id == image_id:
            return index
    raise NotFound(N_("That image does not exist."))


def make_main(store: MongoStore, raw_product_id: str, raw_image_id: str) -> ProductImage:
    product = _product(store, raw_product_id)
    index = _index_of(product, raw_image_id)
    images = product.images
    _replace(store, product, (images[index], *images[:index], *images[index + 1:]))
    return images[index]


def describe_image(store: MongoStore, raw_product_id: str, raw_image_id: str, raw_alt: object,
                   raw_variant: object = None) -> ProductImage:
    """Set an image's alt text and, for a product sold in options, the variant it shows (none: all)."""
    product = _product(store, raw_product_id)
    index = _index_of(product, raw_image_id)
    variant = raw_variant.strip() if isinstance(raw_variant, str) and raw_variant.strip() else None
    if variant is not None:
        check_sells(product, parse_variant_key(variant))
    described = dataclasses.replace(product.images[index], alt=parse_alt(raw_alt), variant=variant)
    _replace(store, product, (*product.images[:index], described, *product.images[index + 1:]))
    return described


def remove_image(store: MongoStore, raw_product_id: str, raw_image_id: str) -> ProductImage:
    """Take an image off the product. Its files stay in GridFS: they are content-addressed, so another
    product (or this one again) may show the same image."""
    product = _product(store, raw_product_id)
    index = _index_of(product, raw_image_id)
    _replace(store, product, (*product.images[:index], *product.images[index + 1:]))
    return product.images[index]


def illustrate_demo_products(store: MongoStore, products: list[Product]) -> int:
    """Give the demo catalog's products their category's illustration (drawn here, stored once per
    category: the same picture is the same content-addressed files); returns how many got one."""
    prepared: dict[str, PreparedImage | None] = {}
    illustrated = 0
    for product in products:
        if product.images:
            continue
        if product.category not in prepared:
            drawn = demo_image(product.category)
            made = prepare(drawn) if drawn else None
            if made is not None:
                store.images.save(made)
            prepared[product.category] = made
        image = prepared[product.category]
        if image is None:
            continue
        alt = f"{product.name} ({product.category}, ilustración)"[:MAX_ALT_LENGTH]
        shown = ProductImage(image.image_id, alt, image.width, image.height, tuple(image.sizes))
        store.catalog.replace_images(product.product_id, product.images_rev, (shown,))
        illustrated += 1
    return illustrated
