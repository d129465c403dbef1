"""Issue 20: attribution maps judged on measurable bars (has_bar, simulated GZ2 bar vote >= 0.5).

    python -m experiments.exp_measurable maps --data DIR --work WORK [--variants sg,ig_axi,...]
    python -m experiments.exp_measurable score --data DIR --work WORK [--fit-on OTHER_WORK]
    python -m experiments.exp_measurable pair --data DIR --work WORK --data2 DIR2 --work2 WORK2

``pair`` ranks the moments settings of each variant by the WORSE of two validation sets' rho
(maps made by ``maps`` on both): a setting must hold on both, since one set of ~90 bars can
favour a setting (or a variant) by chance.

``maps`` computes each variant's model-input map for every measurable bar of DIR and keeps
them in WORK/maps_VARIANT.npz; ``score`` measures them with the moments grid and prints
Spearman rho, Pearson r, rho of length/r90 and the median relative error after one length
scale (fitted on the same set, or, with ``--fit-on``, taken from another set's best setting:
the honest number). The variants:

- ``sg``: SmoothGrad |gradient|, the shipped default (N samples, noise 0.1);
- ``ig_axi``: Integrated Gradients from the galaxy's own axisymmetric model (median light in
  fixed-geometry elliptical annuli), positive part: the model's view of the non-axisymmetric light;
- ``sgxr``: signed SmoothGrad gradient x (input - axisymmetric model), positive part (one-step IG);
- ``occ_axi``: occlusion whose window is filled with the axisymmetric model (the drop of the bar
  logit when that patch's non-axisymmetric light is removed), positive part;
- ``sg_rot``: SmoothGrad averaged over the four right-angle turns of the input (turned back):
  the model's grain averages out, a bar's own evidence should not;
- ``ig_zero``: Integrated Gradients from an all-zero model input, positive part;
- ``gxi``: signed SmoothGrad gradient x input, positive part;
- ``resid``: the positive non-axisymmetric residual alone, no network (the control that says how
  much of a variant's length comes from the image rather than the model);
- ``nt``: one pass of noisy gradients per noise level of ``--noises`` (fraction of the input range),
  aggregated four ways: ``sg@N`` mean |gradient|, max over channels (``sg@0.1`` is ``sg``);
  ``sgc@N`` the same, mean over channels (noise in one band averages out, a bar is in all);
  ``sq@N`` SmoothGrad-squared (mean squared gradient) and ``vg@N`` VarGrad (its variance), the
  other two aggregations of Captum's NoiseTunnel.

``pool --set DATA WORK [--set ...] [--held-out DATA WORK]`` chooses each variant's setting by the
rho of length and of length/r90 over the bars of all ``--set`` sets pooled (a bigger sample than
one set; the worst set's rho is printed beside), fits one scale there, and reports the held-out
set at that setting and scale with bootstrap intervals: the honest number for a choice.
``catalog --set DATA WORK [--set ...] --out FOLDER`` writes those sets' measurable bars as one image
set (FOLDER/catalog_measurable.ecsv) for ``tools.calibrate_lengths``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import measurable_bars, shipped_model

VARIANTS = ("sg", "ig_axi", "sgxr", "resid", "occ_axi", "sg_rot", "ig_zero", "gxi")
NT_KINDS = ("sg", "sgc", "sq", "vg")


def noisy_gradients(net, x, target: int, n: int, noise: float, chunk: int = 5, seed: int = 0):
    """Mean |g|, mean g^2 and mean g over ``n`` noisy copies of ``x`` (sigma = noise x input range):
    the sums NoiseTunnel's smoothgrad, smoothgrad_sq and vargrad are made of, in one pass."""
    import torch

    sigma = noise * float(x.max() - x.min())
    gen = torch.Generator().manual_seed(seed)
    s1 = s2 = sg = 0
    done = 0
    while done < n:
        k = min(chunk, n - done)
        xb = (x.detach() + sigma * torch.randn((k, *x.shape[1:]), generator=gen)).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(net(xb)[:, target].sum(), xb)
        s1, s2, sg = s1 + g.abs().sum(0), s2 + (g * g).sum(0), sg + g.sum(0)
        done += k
    return s1 / n, s2 / n, sg / n


def nt_maps(net, x, target: int, n: int, noises) -> dict[str, np.ndarray]:
    """The ``nt`` family's four aggregations at each noise level (C x S x S -> S x S maps)."""
    out = {}
    for noise in noises:
        m1, m2, mg = noisy_gradients(net, x, target, n, noise)
        out[f"sg@{noise:g}"] = m1.amax(0).numpy()
        out[f"sgc@{noise:g}"] = m1.mean(0).numpy()
        out[f"sq@{noise:g}"] = m2.amax(0).numpy()
        out[f"vg@{noise:g}"] = (m2 - mg * mg).clamp_min(0).amax(0).numpy()
    return out


def open_measurable(path: Path):
    from galaxyscope.images.imageset import ImageSet

    s = ImageSet.open(path)
    has = np.asarray(s.column("has_bar"), bool)
    vote = np.asarray(s.column("t03_bar_a06_bar_fraction"), float)
    idx = np.flatnonzero(measurable_bars(has, vote))
    col = lambda n: np.asarray(s.column(n), float)[idx]  # noqa: E731
    return s, idx, col("bar_length_px"), col("r90_px")


def compute_maps(args) -> int:
    import torch

    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.attributions import captum_class, smoothgrad_attribution
    from galaxyscope.saliency.axisymmetric import axisymmetric_model

    torch.set_num_threads(args.threads)
    s, idx, true, r90 = open_measurable(args.data)
    if args.limit:
        idx = idx[: args.limit]
    model = load_checkpoint(args.model or shipped_model(), device="cpu")
    net = model.net.eval()
    tgt = model.output_index(None)
    IG = captum_class("IntegratedGradients")
    args.work.mkdir(parents=True, exist_ok=True)
    out: dict[str, list] = {v: [] for v in args.variants if v != "nt"}
    nt = "nt" in args.variants
    if nt:
        out.update({f"{k}@{noise:g}": [] for noise in args.noises for k in NT_KINDS})
    boxes = []
    t0 = time.perf_counter()
    for n, i in enumerate(idx):
        im = s[int(i)]
        x = model.preprocessing.to_model(im)
        boxes.append(model.preprocessing.box_for(im))
        base = torch.from_numpy(axisymmetric_model(x[0].numpy())[None]).float()
        resid = (x - base).detach()
        g = None
        if "sg" in out or "sgxr" in out or "gxi" in out:
            sigma = 0.1 * float(x.max() - x.min())
            if "sgxr" in out or "gxi" in out:
                with torch.enable_grad():
                    g = smoothgrad_attribution(net, x.clone().requires_grad_(True), tgt, n_samples=args.samples,
                                               stdev=sigma, chunk=5, seed=0, absolute=False)
            if "sg" in out:
                with torch.enable_grad():
                    ga = smoothgrad_attribution(net, x.clone().requires_grad_(True), tgt, n_samples=args.samples,
                                                stdev=sigma, chunk=5, seed=0, absolute=True)
                out["sg"].append(ga.abs().amax(1)[0].numpy())
            if "sgxr" in out:
                out["sgxr"].append(torch.relu((g * resid).sum(1))[0].numpy())
            if "gxi" in out:
                out["gxi"].append(torch.relu((g * x).sum(1))[0].detach().numpy())
        if "ig_axi" in out:
            with torch.enable_grad():
                a = IG(net).attribute(x.clone().requires_grad_(True), baselines=base, target=tgt,
                                      n_steps=args.steps, internal_batch_size=args.steps)
            out["ig_axi"].append(torch.relu(a.sum(1))[0].detach().numpy())
        if "ig_zero" in out:
            with torch.enable_grad():
                a = IG(net).attribute(x.clone().requires_grad_(True), baselines=torch.zeros_like(x), target=tgt,
                                      n_steps=args.steps, internal_batch_size=args.steps)
            out["ig_zero"].append(torch.relu(a.sum(1))[0].detach().numpy())
        if "sg_rot" in out:  # the map averaged over the four right-angle turns of the input
            sigma = 0.1 * float(x.max() - x.min())
            acc = 0
            for k in range(4):
                xr = torch.rot90(x, k, dims=(2, 3)).contiguous()
                with torch.enable_grad():
                    ga = smoothgrad_attribution(net, xr.clone().requires_grad_(True), tgt, n_samples=args.samples,
                                                stdev=sigma, chunk=5, seed=k, absolute=True)
                acc = acc + torch.rot90(ga.abs().amax(1), -k, dims=(1, 2))
            out["sg_rot"].append((acc / 4)[0].numpy())
        if "occ_axi" in out:
            occ = captum_class("Occlusion")(net)
            w, st = args.window, max(1, args.window // 2)
            with torch.no_grad():
                a = occ.attribute(x, sliding_window_shapes=(x.shape[1], w, w), strides=(x.shape[1], st, st),
                                  baselines=base, target=tgt, perturbations_per_eval=64)
            out["occ_axi"].append(torch.relu(a[0, 0]).numpy())
        if nt:
            for name, m in nt_maps(net, x, tgt, args.samples, args.noises).items():
                out[name].append(m)
        if "resid" in out:
            out["resid"].append(torch.relu(resid.sum(1))[0].numpy())
        if n % 10 == 0:
            print(f"{n + 1}/{len(idx)} {time.perf_counter() - t0:.0f} s", flush=True)
    for v, maps in out.items():
        np.savez_compressed(args.work / f"maps_{v}.npz", maps=np.stack(maps).astype(np.float32), idx=idx,
                            boxes=np.array(boxes))
    return 0


def grid():
    import itertools

    from galaxyscope.measure import MomentsParams

    for t, blur, lf in itertools.product((0.1, 0.2, 0.3, 0.4, 0.5, 0.6), (0.75, 1.5, 3.0), ("extent", "axis")):
        yield f"t={t} blur={blur} {lf}", MomentsParams(t_start=t, blur_sigma=blur, length_from=lf)


def full_maps(model, s, maps, idx, boxes) -> list[tuple[np.ndarray, dict]]:
    """Each model-input map on its image's own grid, with the image's measuring geometry: made
    once per map, since a settings grid measures every map dozens of times."""
    import torch

    from galaxyscope.saliency.attributions import normalise_map, original_grid_map

    out = []
    for m, i, box in zip(maps, idx, boxes):
        im = s[int(i)]
        full = original_grid_map(model, normalise_map(torch.from_numpy(m)[None, None]), im.height, im.width,
                                 box=tuple(box))
        out.append((full, model.preprocessing.measure_kwargs(im)))
    return out


def lengths(full: list[tuple[np.ndarray, dict]], opts) -> np.ndarray:
    """The moments length of each map (`full_maps`) at ``opts``."""
    from galaxyscope.measure import measure_bar

    return np.array([measure_bar(f, "moments", options=opts, **kw).length_px for f, kw in full])


def metrics(L, true, r90, scale=None) -> dict:
    from scipy.stats import pearsonr, spearmanr

    ok = np.isfinite(L) & (L > 0)
    if ok.sum() < 10:
        return {"n": int(ok.sum())}
    s = float(np.median(true[ok] / L[ok])) if scale is None else scale
    Lc = s * L[ok]
    return {"n": int(ok.sum()), "of": len(L), "rho": float(spearmanr(Lc, true[ok])[0]),
            "r": float(pearsonr(Lc, true[ok])[0]),
            "rho_r90": float(spearmanr(Lc / r90[ok], true[ok] / r90[ok])[0]),
            "mre": float(np.median(np.abs(Lc - true[ok]) / true[ok])), "scale": s}


def intervals(L, true, r90) -> dict:
    """Bootstrap 95 % intervals of rho, r, rho of length/r90 and the median relative error."""
    from galaxyscope.evaluate.metrics import compute_metrics

    m = compute_metrics(L, true)
    mn = compute_metrics(L / r90, true / r90)
    return {"rho": (m.spearman_rho.low, m.spearman_rho.high), "r": (m.pearson_r.low, m.pearson_r.high),
            "rho_r90": (mn.spearman_rho.low, mn.spearman_rho.high),
            "mre": (m.median_rel_err.low, m.median_rel_err.high)}


def score(args) -> int:
    from scipy.stats import spearmanr

    from galaxyscope.model.checkpoint import load_checkpoint

    s, idx_all, true_all, r90_all = open_measurable(args.data)
    model = load_checkpoint(args.model or shipped_model(), device="cpu")
    fitted = json.loads((args.fit_on / "best.json").read_text()) if args.fit_on else {}
    best = {}
    for v in args.variants:
        f = args.work / f"maps_{v}.npz"
        if not f.exists():
            continue
        z = np.load(f)
        maps, idx, boxes = z["maps"], z["idx"], z["boxes"]
        pos = {int(i): k for k, i in enumerate(idx_all)}
        sel = np.array([pos[int(i)] for i in idx])
        true, r90 = true_all[sel], r90_all[sel]
        print(f"== {v} (n={len(idx)}; size-only rho {spearmanr(r90, true)[0]:.2f})")
        full = full_maps(model, s, maps, idx, boxes)
        rows = []
        for label, opts in grid():
            if v in fitted and label != fitted[v]["label"]:
                continue
            m = metrics(lengths(full, opts), true, r90,
                        scale=fitted[v]["scale"] if v in fitted else None)
            if "rho" in m:
                rows.append((label, m))
        rows.sort(key=lambda r: -(r[1]["rho"] + r[1]["rho_r90"]))
        for label, m in rows[: args.top]:
            print(f"  {label:28s} n={m['n']}/{m['of']} rho {m['rho']:.2f} r {m['r']:.2f} "
                  f"rho/r90 {m['rho_r90']:.2f} mre {m['mre']:.3f} scale {m['scale']:.3f}")
        if rows:
            label = rows[0][0]
            opts = dict(grid())[label]
            L = lengths(full, opts) * rows[0][1]["scale"]
            best[v] = {"label": label, **rows[0][1], "intervals": intervals(L, true, r90)}
            print("  with 95 % bootstrap intervals: " + ", ".join(
                f"{k} {lo:.2f}-{hi:.2f}" for k, (lo, hi) in best[v]["intervals"].items()))
    (args.work / ("test.json" if args.fit_on else "best.json")).write_text(json.dumps(best, indent=1))
    return 0


def pair(args) -> int:
    """Each variant's settings ranked by min(rho on DATA, rho on DATA2); rho of length/r90 beside."""
    from scipy.stats import spearmanr

    from galaxyscope.model.checkpoint import load_checkpoint

    model = load_checkpoint(args.model or shipped_model(), device="cpu")
    settings = list(grid())
    for v in args.variants:
        res: dict[str, list] = {label: [] for label, _ in settings}
        for data, work in ((args.data, args.work), (args.data2, args.work2)):
            L, true, r90 = _set_lengths(model, data, work, v, settings)
            for label in L:
                x = np.array(L[label])
                ok = np.isfinite(x)
                res[label].append((spearmanr(x[ok], true[ok])[0], spearmanr(x[ok] / r90[ok], true[ok] / r90[ok])[0],
                                   int(ok.sum()), len(x)))
        print(f"== {v}: rho / rho of length/r90 (n) on {args.data.name} | {args.data2.name}, best first")
        for label in sorted(res, key=lambda k: -min(res[k][0][0], res[k][1][0]))[: args.top]:
            print(f"  {label:28s} " + " | ".join(f"{a:.2f} / {b:.2f} ({n}/{of})" for a, b, n, of in res[label]))
    return 0


class _ImageCache:
    """An image set whose images are read once (``pool`` measures many variants of the same bars)."""

    def __init__(self, s) -> None:
        self.s, self.cache = s, {}

    def __getitem__(self, i: int):
        if i not in self.cache:
            self.cache[i] = self.s[i]
        return self.cache[i]


_OPENED: dict = {}


def _set_lengths(model, data: Path, work: Path, variant: str, settings) -> tuple[dict, np.ndarray, np.ndarray]:
    """Every setting's raw lengths of one set's maps of ``variant``, with the true lengths and r90."""
    if data not in _OPENED:  # every variant measures the same images: read them once
        s, idx_all, true_all, r90_all = open_measurable(data)
        _OPENED[data] = (_ImageCache(s), idx_all, true_all, r90_all)
    s, idx_all, true_all, r90_all = _OPENED[data]
    z = np.load(work / f"maps_{variant}.npz")
    pos = {int(i): k for k, i in enumerate(idx_all)}
    sel = np.array([pos[int(i)] for i in z["idx"]])
    full = full_maps(model, s, z["maps"], z["idx"], z["boxes"])
    return {label: lengths(full, opts) for label, opts in settings}, true_all[sel], r90_all[sel]


def pool(args) -> int:
    """Each variant's setting chosen on the pooled ``--set`` sets, then the held-out set at it."""
    from scipy.stats import spearmanr

    from galaxyscope.model.checkpoint import load_checkpoint

    model = load_checkpoint(args.model or shipped_model(), device="cpu")
    settings = list(grid())
    summary = {}
    for v in args.variants:
        sets = [_set_lengths(model, Path(d), Path(w), v, settings) for d, w in args.set]
        true = np.concatenate([t for _, t, _ in sets])
        r90 = np.concatenate([r for _, _, r in sets])

        def rhos(L, t, r):
            ok = np.isfinite(L) & (L > 0)
            return spearmanr(L[ok], t[ok])[0], spearmanr(L[ok] / r[ok], t[ok] / r[ok])[0], int(ok.sum())

        rows = []
        for label, _ in settings:
            L = np.concatenate([s[0][label] for s in sets])
            rho, rr, n = rhos(L, true, r90)
            worst = min(rhos(s[0][label], s[1], s[2])[0] for s in sets)
            rows.append((rho + rr, label, rho, rr, n, worst, L))
        rows.sort(key=lambda r: -r[0])
        print(f"== {v}: pooled rho / rho of length/r90 (n of {len(true)}) on "
              f"{' + '.join(Path(d).name for d, _ in args.set)}; worst set's rho")
        for _, label, rho, rr, n, worst, _ in rows[: args.top]:
            print(f"  {label:28s} {rho:.2f} / {rr:.2f} (n={n}) worst {worst:.2f}")
        _, label, rho, rr, n, worst, L = rows[0]
        ok = np.isfinite(L) & (L > 0)
        scale = float(np.median(true[ok] / L[ok]))
        summary[v] = {"label": label, "pooled_rho": rho, "pooled_rho_r90": rr, "worst_rho": worst, "scale": scale}
        if args.held_out:
            d, w = args.held_out
            Ls, t, r = _set_lengths(model, Path(d), Path(w), v, [(label, dict(settings)[label])])
            m = metrics(Ls[label], t, r, scale=scale)
            ok = np.isfinite(Ls[label]) & (Ls[label] > 0)
            ci = intervals(scale * Ls[label][ok], t[ok], r[ok])
            summary[v]["held_out"] = {**m, "intervals": ci}
            print(f"  held out {Path(d).name} at {label} x {scale:.3f}: n={m['n']}/{m['of']} "
                  + " ".join(f"{k} {m[k]:.2f} [{ci[k][0]:.2f}, {ci[k][1]:.2f}]" for k in ("rho", "r", "rho_r90", "mre")))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0


def pooled_catalog(args) -> int:
    """The measurable bars of the ``--set`` sets as one image set in ``--out`` (links to their images
    and masks, ids prefixed with each set's folder name): what ``tools.calibrate_lengths`` fits a
    scale on when a choice was made on several sets pooled."""
    import os

    from astropy.table import Table, vstack

    out = Path(args.out)
    parts = []
    for data, _work in args.set:
        data = Path(data)
        t = Table.read(data / "catalog.ecsv", format="ascii.ecsv")
        t = t[measurable_bars(np.asarray(t["has_bar"], bool), np.asarray(t["t03_bar_a06_bar_fraction"], float))]
        for col in ("filename", "bar_mask"):
            names = []
            for f in t[col]:
                dst = out / Path(f).parent / f"{data.name}_{Path(f).name}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    os.symlink((data / f).resolve(), dst)
                names.append(str(dst.relative_to(out)))
            t[col] = names
        t["id"] = [f"{data.name}_{i}" for i in t["id"]]
        t.meta = {"note": f"measurable bars of {data.name} (seed {t.meta.get('seed', '?')})"}
        parts.append(t)
    pooled = vstack(parts, metadata_conflicts="silent")
    pooled.meta = {"note": "; ".join(p.meta["note"] for p in parts)}
    pooled.write(out / "catalog_measurable.ecsv", format="ascii.ecsv", overwrite=True)
    print(f"{len(pooled)} measurable bars -> {out / 'catalog_measurable.ecsv'}")
    return 0


def expand(variants: list[str], noises: list[float]) -> list[str]:
    """``nt`` stands for its four aggregations at each noise level."""
    out = []
    for v in variants:
        out += [f"{k}@{n:g}" for n in noises for k in NT_KINDS] if v == "nt" else [v]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=("maps", "score", "pair", "pool", "catalog"))
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--noises", default="0.1", help="nt: noise levels, comma-separated fractions of the input range")
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("DATA", "WORK"),
                    help="pool: a set to choose on (repeat)")
    ap.add_argument("--held-out", nargs=2, default=None, metavar=("DATA", "WORK"), help="pool: the set to report")
    ap.add_argument("--out", default=None, help="pool: write the choices and held-out numbers as JSON")
    ap.add_argument("--model", default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--window", type=int, default=8, help="occlusion window (model px)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--fit-on", type=Path, default=None)
    ap.add_argument("--data2", type=Path, default=None, help="pair: the second validation set")
    ap.add_argument("--work2", type=Path, default=None, help="pair: its maps")
    args = ap.parse_args(argv)
    args.noises = [float(n) for n in args.noises.split(",") if n]
    args.variants = [v for v in args.variants.split(",") if v]
    if args.phase != "maps":
        args.variants = expand(args.variants, args.noises)
    if args.phase in ("pool", "catalog"):
        if not args.set:
            ap.error(f"{args.phase} needs at least one --set DATA WORK")
        if args.phase == "catalog" and not args.out:
            ap.error("catalog needs --out FOLDER")
    elif args.data is None or args.work is None:
        ap.error(f"{args.phase} needs --data and --work")
    if args.phase == "pair" and (args.data2 is None or args.work2 is None):
        ap.error("pair needs --data2 and --work2")
    return {"maps": compute_maps, "score": score, "pair": pair, "pool": pool, "catalog": pooled_catalog}[args.phase](args)


if __name__ == "__main__":
    sys.exit(main())
