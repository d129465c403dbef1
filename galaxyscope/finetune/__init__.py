"""Improve a model from the annotation database (human in the loop; no Qt).

`core.finetune_from_database` is what ``galaxyscope finetune`` and the window's
"Improve model from annotations" action call; the package imports nothing heavy
until it runs (``--help`` stays fast).
"""
