"""Product images in MongoDB GridFS (`store.images`), beside the catalog, so a backup of the database
carries them: each image's cleaned original and its WebP sizes, stored once under content-addressed
names (`<sha256>-<width>.webp`, `<sha256>-original`). Storing an image that is already there stores
nothing; two uploads of the same file at once may store it twice, which readers do not notice (the
newest copy is read, and both are the same bytes)."""

from __future__ import annotations

from typing import Any

import gridfs

from shop.adapters.images import PreparedImage
from shop.adapters.mongo.errors import translates_errors
from shop.domain.images import derivative_name

BUCKET = "images"


@translates_errors
class Images:
    def __init__(self, db: Any):
        self.bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]

    def save(self, image: PreparedImage) -> None:
        """Store the original and every size, each unless it is there already."""
        wanted: dict[str, tuple[bytes, str, int | None]] = {
            f"{image.image_id}-original": (image.original, image.content_type, None)}
        wanted |= {derivative_name(image.image_id, width): (data, "image/webp", width)
                   for width, data in image.sizes.items()}
        present = {doc["filename"] for doc in self.files.find({"filename": {"$in": list(wanted)}}, {"filename": 1})}
        for name, (data, content_type, width) in wanted.items():
            if name not in present:
                self.bucket.upload_from_stream(name, data, metadata={
                    "image_id": image.image_id, "width": width, "content_type": content_type})

    def read(self, name: str) -> bytes | None:
        """One stored file by its name, or None."""
        try:
            return self.bucket.open_download_stream_by_name(name).read()
        except gridfs.errors.NoFile:
            return None

    def names(self) -> set[str]:
        return {doc["filename"] for doc in self.files.find({}, {"filename": 1})}
