"""What galaxyscope sees in a folder or catalogue: images, the joined catalogue, scales.

Why: before a long `measure` or `train`, a user wants to know that the catalogue was
found, how many of its rows have an image, which files are missing, and whether
lengths can be given in arcsec (a pixel scale) and kpc (a redshift).  Nothing is
read but the file list and the catalogue, so it is quick on large sets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from galaxyscope.images.catalogue import is_catalogue_file
from galaxyscope.images.imageset import (AUTO_PIXEL_SCALE_COLUMN, FOLDER_CATALOGUES, MISSING_FILE_REASON,
                                         ImageSet)

#: catalogue columns whose presence is worth saying (kpc lengths need a redshift)
REDSHIFT_COLUMN = "redshift"
MAX_LISTED = 10


@dataclass
class SetInfo:
    """Summary of an image set (the JSON object ``info --json`` prints for a folder/catalogue)."""

    path: str
    n_images: int
    catalogue: str | None
    n_rows: int | None
    n_with_row: int
    columns: list[str]
    pixel_scale_column: str | None
    redshift_column: str | None
    missing_files: list[str] = field(default_factory=list)
    n_missing: int = 0
    #: other catalogue rows refused at open: reason kind -> count (duplicates, names outside the folder)
    refused: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def is_image_set_path(path: str | Path) -> bool:
    """True for a folder or a catalogue file: what `info` describes as a set."""
    p = Path(path)
    return p.is_dir() or (p.is_file() and is_catalogue_file(p))


def describe_set(path: str | Path) -> SetInfo:
    """Open ``path`` as galaxyscope does and summarise it (raises ImageReadError if unreadable)."""
    p = Path(path)
    s = ImageSet.open(p)
    cat_path = None
    if p.is_dir():
        cat_path = next((p / n for n in FOLDER_CATALOGUES if (p / n).is_file()), None)
    elif is_catalogue_file(p):
        cat_path = p
    columns = list(s.catalogue.colnames) if s.catalogue is not None else []
    scale_col = s.pixel_scale_column or (AUTO_PIXEL_SCALE_COLUMN if AUTO_PIXEL_SCALE_COLUMN in columns else None)
    missing = [str(f.path) for f in s.failures if getattr(f, "reason", "") == MISSING_FILE_REASON]
    n_missing = s.failure_counts.get(MISSING_FILE_REASON, len(missing))
    refused = {k: n for k, n in s.failure_counts.items() if k != MISSING_FILE_REASON}
    return SetInfo(
        path=str(p), n_images=len(s), catalogue=str(cat_path) if cat_path else None,
        n_rows=len(s.catalogue) if s.catalogue is not None else None,
        n_with_row=sum(e.row_index >= 0 for e in s.entries), columns=columns,
        pixel_scale_column=scale_col,
        redshift_column=REDSHIFT_COLUMN if REDSHIFT_COLUMN in columns else None,
        missing_files=missing[:MAX_LISTED], n_missing=n_missing, refused=refused, warnings=list(s.warnings),
    )


def format_set_text(info: SetInfo) -> str:
    """The readable block plain ``info`` prints for a folder or catalogue."""
    if info.catalogue is None:
        cat = "none (a plain folder: every image file below it)"
    else:
        shown = ", ".join(info.columns[:12]) + (f", … ({len(info.columns)} in all)" if len(info.columns) > 12 else "")
        cat = f"{info.catalogue}: {info.n_rows} rows; columns {shown}"
    scale = (f"column {info.pixel_scale_column} (lengths in arcsec)" if info.pixel_scale_column
             else "no catalogue column: from FITS headers (WCS) where present; JPEG/PNG give pixels only")
    z = f"column {info.redshift_column} (lengths in kpc)" if info.redshift_column else "none (no kpc lengths)"
    lines = [
        f"{info.path}  (image set)",
        f"  images       {info.n_images} ({info.n_with_row} with a catalogue row)",
        f"  catalogue    {cat}",
        f"  pixel scale  {scale}",
        f"  redshift     {z}",
    ]
    if info.catalogue is not None:
        more = " …" if info.n_missing > len(info.missing_files) else ""
        lines.append(f"  missing      {info.n_missing} file(s) named in the catalogue"
                     + (": " + ", ".join(info.missing_files) + more if info.n_missing else ""))
    for kind, n in info.refused.items():
        lines.append(f"  refused      {n} catalogue row(s): {kind}")
    for text in info.warnings:
        lines.append(f"  warning      {text}")
    return "\n".join(lines)
