"""Galaxy images: the `GalaxyImage` type, file readers, image sets and catalogues."""

from galaxyscope.images.catalogue import join_catalogue, match_rows, read_catalogue
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.images.imageset import ImageEntry, ImageSet
from galaxyscope.images.readers import IMAGE_SUFFIXES, is_image_file, read_image

__all__ = [
    "GalaxyImage",
    "IMAGE_SUFFIXES",
    "ImageEntry",
    "ImageSet",
    "is_image_file",
    "join_catalogue",
    "match_rows",
    "read_catalogue",
    "read_image",
]
