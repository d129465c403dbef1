"""``galaxyscope info FILE... [--json]``: what galaxyscope sees in image files.

Why: the quickest check that a file reads, at what scale and where on the sky,
before running anything long. A broken file is one error line on stderr (exit
code 2) and the other files are still reported.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from galaxyscope.errors import ImageReadError

if TYPE_CHECKING:
    from galaxyscope.images.galaxy_image import GalaxyImage

# numpy, the readers (astropy.io.fits, PIL) and set_info (astropy.table) are imported
# inside the functions that use them, so that ``galaxyscope --help`` stays fast


@dataclass
class ImageInfo:
    """Summary of one image file (the JSON object ``info --json`` prints per file)."""

    path: str
    id: str
    shape: list[int]  # [height, width, channels]
    channels: int
    dtype: str
    band_names: list[str]
    pixel_scale_arcsec: float | None
    wcs_centre: dict[str, float] | None  # {"ra": deg, "dec": deg} of the image centre
    nan_count: int
    min: float | None  # over finite pixels
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def describe(image: GalaxyImage) -> ImageInfo:
    """Summarise a `GalaxyImage`: shape, scale, WCS centre, NaN count, finite value range."""
    import numpy as np

    finite = image.pixels[np.isfinite(image.pixels)]
    return ImageInfo(
        path=str(image.path) if image.path is not None else "",
        id=image.id,
        shape=[int(s) for s in image.shape],
        channels=image.channels,
        dtype=str(image.pixels.dtype),
        band_names=list(image.band_names),
        pixel_scale_arcsec=image.pixel_scale_arcsec(),
        wcs_centre=wcs_centre(image),
        nan_count=image.nan_count,
        min=float(finite.min()) if finite.size else None,
        max=float(finite.max()) if finite.size else None,
    )


def wcs_centre(image: GalaxyImage) -> dict[str, float] | None:
    """(ra, dec) in degrees of the image's central pixel, or None without a usable WCS."""
    if image.wcs is None:
        return None
    try:
        x = (image.width - 1) / 2.0
        y = (image.height - 1) / 2.0
        try:
            icrs = image.wcs.pixel_to_world(x, y).icrs
            ra, dec = float(icrs.ra.deg), float(icrs.dec.deg)
        except Exception:  # frame astropy cannot name: report the header's own lon/lat
            lon, lat = image.wcs.pixel_to_world_values(x, y)
            ra, dec = float(lon), float(lat)
    except Exception:  # a WCS astropy can parse but not evaluate: no centre, not an error
        return None
    if not (math.isfinite(ra) and math.isfinite(dec)):
        return None
    return {"ra": ra, "dec": dec}


def format_text(info: ImageInfo) -> str:
    """The short readable block plain ``info`` prints for one file."""
    h, w, c = info.shape
    bands = f" ({', '.join(info.band_names)})" if info.band_names else ""
    scale = f"{info.pixel_scale_arcsec:.4f} arcsec/pixel" if info.pixel_scale_arcsec is not None else "unknown"
    centre = (f"RA {info.wcs_centre['ra']:.6f} deg, Dec {info.wcs_centre['dec']:+.6f} deg"
              if info.wcs_centre else "no WCS")
    value_range = f"{info.min:.6g} .. {info.max:.6g}" if info.min is not None else "no finite values"
    return "\n".join([
        info.path,
        f"  shape        {h} x {w} x {c} (height x width x channels), {info.dtype}",
        f"  channels     {c}{bands}",
        f"  pixel scale  {scale}",
        f"  WCS centre   {centre}",
        f"  NaN/inf      {info.nan_count}",
        f"  values       {value_range}",
    ])


EXAMPLES = """\
examples:
  galaxyscope info frame.fits                   # shape, bands, pixel scale, RA/Dec of the centre
  galaxyscope info --json a.jpg b.fits          # one JSON object per file
  galaxyscope info synth_set/                   # a folder: the image set and its catalogue"""


def register(subparsers: Any) -> None:
    """Add the ``info`` command to galaxyscope's CLI."""
    p = subparsers.add_parser(
        "info",
        help="show shape, pixel scale, WCS centre and value range of image files (or summarise a folder)",
        description=(
            "Read each FILE (JPEG, PNG or FITS) as galaxyscope does and report its shape, "
            "channels, dtype, pixel scale, WCS centre (RA/Dec of the central pixel), "
            "NaN/inf count and finite value range. Plain output is one short block per file. "
            "A file that cannot be read prints 'galaxyscope info: error: PATH: REASON' on "
            "stderr; the other files are still reported and the exit code is 2. A FOLDER or a "
            "catalogue file is summarised as an image set instead: number of images, the catalogue "
            "found and its columns, the pixel-scale and redshift columns, and files it names that "
            "are missing."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="image files, folders or catalogues to describe")
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list with one object per FILE (also for a single file); keys: path, id, "
        "shape, channels, dtype, band_names, pixel_scale_arcsec (null if unknown), wcs_centre "
        "({ra, dec} in deg, or null), nan_count, min, max. An unreadable file's object is "
        "{path, error}.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Describe every file; errors go to stderr as one line each; exit 2 if any failed."""
    from galaxyscope.images.readers import read_image
    from galaxyscope.images.set_info import describe_set, format_set_text, is_image_set_path

    objects: list[dict[str, Any]] = []
    failed = 0
    for i, name in enumerate(args.files):
        try:
            if is_image_set_path(name):
                set_info = describe_set(name)
                objects.append(set_info.to_json())
                if not args.json:
                    print(("\n" if i else "") + format_set_text(set_info))
                continue
            info = describe(read_image(Path(name)))
        except ImageReadError as err:
            failed += 1
            print(f"galaxyscope info: error: {err}", file=sys.stderr)
            objects.append({"path": str(err.path), "error": err.reason})
            continue
        if args.json:
            objects.append(info.to_json())
        else:
            print(("\n" if i else "") + format_text(info))
    if args.json:
        print(json.dumps(objects, indent=2))
    sys.stdout.flush()
    return 2 if failed else 0
