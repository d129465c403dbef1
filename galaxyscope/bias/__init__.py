"""Bias checks on saliency (no Qt): does the model look at the galaxy, or at something else?

- `masks`: ``galaxy_masks(image, centre, region=...) -> GalaxyMasks`` (galaxy, other sources, border);
- `scores`: ``placement_scores(saliency, masks) -> PlacementScores`` (shares of saliency mass, offsets);
- `flags`: ``evaluate_flags(scores, FlagThresholds()) -> FlagResult`` (rules with readable reasons);
- `scan`: ``scan_dataset(image_set, model, ...) -> ScanReport`` (rows, summary, worst cases);
- `summary`: counts per reason and whether flags follow a label class (dataset bias);
- `montage`: ``write_montage(report.worst, png)``; `store_flags`: flags into the annotation database;
- `sanity`: cascading model randomisation (Adebayo et al. 2018) -> ``SanityReport``;
- `cli_scan`, `cli_sanity`: the ``scan-bias`` and ``sanity`` commands.

Nothing is imported here, so ``import galaxyscope.bias.flags`` stays light.
"""
