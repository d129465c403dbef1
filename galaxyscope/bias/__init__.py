"""Bias checks on saliency (no Qt): does the model look at the galaxy, or at something else?

- `masks`: ``galaxy_masks(image, centre, region=...) -> GalaxyMasks`` (galaxy, other sources, border);
- `scores`: ``placement_scores(saliency, masks) -> PlacementScores`` (shares of saliency mass, offsets);
- `flags`: ``evaluate_flags(scores, FlagThresholds()) -> FlagResult`` (rules with readable reasons);
- `calibrate`: thresholds from the model's own scores (a clean reference's percentile, the set's
  outliers, or fixed) with the words saying what each was compared with; model-wide notes;
- `reference`: the clean reference (a synthetic set rendered once, or the user's) and its cached values;
- `spots`: off-galaxy saliency recurring in one place across a set (a planted artefact's mark);
- `scan`: ``scan_dataset(image_set, model, calibration=..., reference=...) -> ScanReport``;
- `selftest`: the planted-shortcut check of the flags on a model (``scan-bias --selftest``);
- `mask_cache`: masks cached on disk (they do not depend on the model); `defaults`: light constants;
- `summary`: counts per reason and whether flags follow a label class (dataset bias);
- `montage`: ``write_montage(report.worst, png)``; `store_flags`: flags into the annotation database;
- `sanity`: cascading model randomisation (Adebayo et al. 2018) -> ``SanityReport``;
- `cli_scan`, `cli_sanity`: the ``scan-bias`` and ``sanity`` commands.

Nothing is imported here, so ``import galaxyscope.bias.flags`` stays light.
"""
