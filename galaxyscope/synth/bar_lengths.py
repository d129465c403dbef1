"""How long synthetic bars are, relative to their galaxy: quantiles of the Hoyle et al. 2011 catalogue.

Why a derived table: the generator must not read /work/shared at run time, and 101 quantiles
describe a 3150-galaxy distribution well enough to draw from. The table ships in
``resources/synth/hoyle2011_bar_quantiles.ecsv`` with its provenance in the ECSV metadata;
``python -m galaxyscope.synth.bar_lengths HOYLE_DIR`` rebuilds it.

Columns (all at the same cumulative probabilities ``quantile`` = 0, 0.01, ..., 1):
- ``length_scaled``: Hoyle's bar length divided by galaxy size. Hoyle et al. do not state the
  normaliser; L / (2 R90) (R90 = SDSS petroR90_r) is the one that gives plausible galaxy sizes
  (median R90 ~ 19 arcsec at the median z = 0.037, versus ~ 38 arcsec for L / R90), so the
  generator reads it as L / (2 R90).
- ``redshift``: from Erwin's table (same galaxies).
- ``r90_arcsec``: R90 implied by L / (2 R90) with length_avg (kpc/h, h = 0.7) and a flat LCDM
  cosmology (H0 = 70, Om0 = 0.3); used to pick GZ2-like pixel scales.
"""

from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.table import Table

TABLE_NAME = "hoyle2011_bar_quantiles.ecsv"


def resources_dir() -> Path:
    """The project's ``resources/synth`` folder (honours $GALAXYSCOPE_RESOURCES and app bundles)."""
    from galaxyscope.resources import resources_dir as project_resources

    return project_resources() / "synth"


def build_quantile_table(hoyle_dir: str | Path) -> Table:
    """Quantiles of length_scaled, redshift and implied R90 from the Hoyle 2011 files in ``hoyle_dir``."""
    import astropy.units as u
    from astropy.cosmology import FlatLambdaCDM
    from astropy.table import join

    hoyle_dir = Path(hoyle_dir)
    hoyle = Table.read(hoyle_dir / "hoyle_barlengths.csv", format="ascii.csv")
    erwin = Table.read(
        hoyle_dir / "GalaxyZoo2_barlengths_alldata_erwin.txt",
        format="ascii.basic",
        names=["objid", "sma_kpc", "err_sma_kpc", "logMstar", "M_g", "M_i", "z"],
    )
    both = join(hoyle, erwin, keys="objid")
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    kpc_per_arcsec = cosmo.kpc_proper_per_arcmin(both["z"]).to_value(u.kpc / u.arcsec)
    length_kpc = np.asarray(both["length_avg"]) / 0.7
    r90_arcsec = length_kpc / (2.0 * np.asarray(both["length_scaled"])) / kpc_per_arcsec

    q = np.linspace(0.0, 1.0, 101)
    table = Table()
    table["quantile"] = q
    table["length_scaled"] = np.quantile(np.asarray(hoyle["length_scaled"], dtype=float), q)
    table["redshift"] = np.quantile(np.asarray(both["z"], dtype=float), q)
    table["r90_arcsec"] = np.quantile(r90_arcsec, q)
    table.meta["source"] = (
        "Hoyle et al. 2011, MNRAS 415, 3627 (Galaxy Zoo 2 bar lengths, zooniverse/data.galaxyzoo.org "
        "public/data/bars/hoyle_barlengths.csv, 3150 galaxies); redshifts from "
        "GalaxyZoo2_barlengths_alldata_erwin.txt (perwin/s4g_barfractions, BSD-3-Clause)."
    )
    table.meta["derivation"] = (
        "np.quantile at 0, 0.01, ..., 1. length_scaled is read as L/(2 R90). r90_arcsec = "
        "(length_avg/0.7 kpc) / (2 length_scaled) / (kpc per arcsec at z, FlatLambdaCDM H0=70 Om0=0.3). "
        "Rebuild: python -m galaxyscope.synth.bar_lengths HOYLE_DIR"
    )
    table.meta["n_galaxies"] = int(len(hoyle))
    table.meta["n_with_redshift"] = int(len(both))
    return table


@lru_cache(maxsize=1)
def load_quantile_table() -> Table:
    """The shipped quantile table (read once per process)."""
    return Table.read(resources_dir() / TABLE_NAME, format="ascii.ecsv")


def draw_from_quantiles(rng: np.random.Generator, column: str) -> float:
    """One value of ``column`` drawn by inverse-CDF sampling, linear between quantiles."""
    table = load_quantile_table()
    return float(np.interp(rng.random(), np.asarray(table["quantile"]), np.asarray(table[column])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the Hoyle 2011 bar-length quantile table.")
    parser.add_argument("hoyle_dir", help="folder with hoyle_barlengths.csv and Erwin's table")
    parser.add_argument("--out", default=str(resources_dir() / TABLE_NAME))
    args = parser.parse_args(argv)
    table = build_quantile_table(args.hoyle_dir)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.write(args.out, format="ascii.ecsv", overwrite=True)
    print(f"wrote {args.out} ({len(table)} quantiles)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
