"""Galaxy images: the `GalaxyImage` type, file readers, image sets and catalogues."""

from galaxyscope.images.galaxy_image import GalaxyImage

__all__ = ["GalaxyImage"]
