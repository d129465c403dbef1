"""Model versions: models fine-tuned on this database's labels, recorded beside them.

Why in the store: a fine-tuned model is only as trustworthy as the labels behind
it, so the database that holds the labels also says which of them each model
learnt from and which it was tested on, which base model it started from (by
SHA-256), and its before/after numbers. The window lists `model_versions` to
switch between them; `galaxyscope finetune` adds one per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from galaxyscope.images.identity import image_key
from galaxyscope.store.convert import model_version_record, to_json
from galaxyscope.store.errors import NotFoundError
from galaxyscope.store.models import ModelVersion, utc_now
from galaxyscope.store.records import ModelVersionRecord

if TYPE_CHECKING:
    from galaxyscope.store.annotation_store import AnnotationStore


class VersionMethods:
    """Model-version methods of `AnnotationStore` (a mixin)."""

    def add_model_version(self: AnnotationStore, path: str | Path, *, sha256: str,
                          base_sha256: str | None = None, base_path: str | Path | None = None,
                          dataset: str | Path | None = None, name: str | None = None,
                          n_train: int = 0, n_test: int = 0, annotations: dict[str, Any] | None = None,
                          metrics: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                          note: str | None = None) -> ModelVersionRecord:
        """Record a model file made from this database's labels (one transaction).

        ``annotations`` names the label and line uids per split (e.g. {"train": [...],
        "test": [...]}); ``metrics`` and ``params`` are any JSON-able numbers and settings.
        The name defaults to "v<N>" (N = this database's count of versions + 1).
        """
        with self.transaction() as s:
            n = len(s.scalars(select(ModelVersion.id)).all())
            row = ModelVersion(
                name=name or f"v{n + 1}", path=image_key(path), sha256=sha256, base_sha256=base_sha256,
                base_path=None if base_path is None else image_key(base_path),
                dataset=None if dataset is None else image_key(dataset), n_train=int(n_train),
                n_test=int(n_test), annotations_json=to_json(annotations or {}),
                metrics_json=to_json(metrics or {}), params_json=to_json(params or {}), note=note,
                created_utc=utc_now())
            s.add(row)
            s.flush()
            return model_version_record(row)

    def model_versions(self: AnnotationStore, *, base_sha256: str | None = None) -> list[ModelVersionRecord]:
        """Every recorded model version (optionally of one base model), oldest first."""
        with self.reading() as s:
            q = select(ModelVersion).order_by(ModelVersion.id)
            if base_sha256 is not None:
                q = q.where(ModelVersion.base_sha256 == base_sha256)
            return [model_version_record(m) for m in s.scalars(q)]

    def model_version(self: AnnotationStore, which: int | str) -> ModelVersionRecord:
        """One version by id, name or SHA-256 (a unique prefix of at least 8 hex digits
        will do); `NotFoundError` otherwise."""
        with self.reading() as s:
            if isinstance(which, int):
                row = s.get(ModelVersion, which)
                if row is None:
                    raise NotFoundError(self.path, f"no model version with id {which}")
                return model_version_record(row)
            text = str(which).strip()
            rows = list(s.scalars(select(ModelVersion).where(ModelVersion.name == text)))
            if not rows and len(text) >= 8:
                rows = list(s.scalars(select(ModelVersion).where(ModelVersion.sha256.startswith(text.lower()))))
            if len(rows) != 1:
                what = "no" if not rows else f"{len(rows)}"
                raise NotFoundError(self.path, f"{what} model versions named or hashed {text!r}")
            return model_version_record(rows[0])
