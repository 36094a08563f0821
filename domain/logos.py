"""A structure's logo: what an upload must be, and what the node keeps of it.

No upload is ever served as it was sent. :func:`reencode` decodes the file with
Pillow (PNG, JPEG, WebP or GIF only, recognised by their content, never by their
name or announced type), refuses decompression bombs, scales it to at most
:data:`MAX_SIDE` pixels a side and encodes the pixels again: PNG (photos: WebP,
smaller), without EXIF or any other metadata, so that neither a hidden payload nor
a camera's GPS position survives. Every refusal is an :class:`Invalid` of the
``logo`` field with its reason (422 for a page or the API).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from domain.validation import FieldError, Invalid

MAX_BYTES = 2 * 1024 * 1024  # an upload larger than this is refused before decoding
# The body of a form carrying a logo may be larger: a file over MAX_BYTES is read and
# refused with its reason (422), not cut off by the server's limit (413).
UPLOAD_BODY_MAX = 4 * MAX_BYTES
MAX_SIDE = 512  # the kept logo fits in MAX_SIDE x MAX_SIDE
# More pixels than this is a decompression bomb: a small file that would take
# gigabytes once decoded. Pillow warns above MAX_IMAGE_PIXELS and raises above
# twice as much; both are refusals here.
MAX_PIXELS = 25_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
BOMB = FieldError("has too many pixels to be decoded safely")


@dataclass(frozen=True)
class Logo:
    """A re-encoded logo, ready to be stored and served."""

    data: bytes
    content_type: str  # image/png or image/webp
    width: int
    height: int


def _refuse(error: FieldError) -> Invalid:
    return Invalid({"logo": error})


def reencode(upload: bytes) -> Logo:
    """The logo to keep for an uploaded file; raises :class:`Invalid` with the reason."""
    if not upload:
        raise _refuse(FieldError("the file is empty"))
    if len(upload) > MAX_BYTES:
        raise _refuse(
            FieldError("is too large: at most %(max)s MB", {"max": MAX_BYTES // (1024 * 1024)})
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload), formats=ACCEPTED_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _refuse(BOMB)
                source_format = image.format
                image.seek(0)  # the first frame of an animation
                image.load()
                picture = ImageOps.exif_transpose(image)  # upright, as the camera meant it
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(BOMB) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse(
            FieldError("is not an image this node accepts (PNG, JPEG, WebP or GIF)")
        ) from None
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    clean = picture.convert("RGBA" if has_alpha and source_format != "JPEG" else "RGB")
    clean.info.clear()  # Pillow would write some metadata (XMP, ICC) back from here
    out = io.BytesIO()
    if source_format == "JPEG":
        clean.save(out, "WEBP", quality=85)
        content_type = "image/webp"
    else:
        clean.save(out, "PNG", optimize=True)
        content_type = "image/png"
    return Logo(out.getvalue(), content_type, picture.width, picture.height)


__all__ = ["MAX_BYTES", "MAX_PIXELS", "MAX_SIDE", "UPLOAD_BODY_MAX", "Logo", "reencode"]
