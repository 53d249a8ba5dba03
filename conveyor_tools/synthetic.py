"""Synthetic predictive-maintenance data with a real, learnable signal (for the demo, tests and benchmarks).

Failure within the horizon grows with power (torque x speed), tool wear, heat dissipation
trouble (small gap between process and air temperature) and vibration, through a logistic
model, so a model trained on it beats chance by a wide margin. ``shuffle_labels`` breaks the
link between features and labels: a model trained on that data learns nothing.

With ``humidity``, each record also has the ambient humidity of the example schema change
(predictive_maintenance_v2): it reads higher before a failure, so a model that is given it uses it.
It is drawn from a generator of its own, so the other columns are the same with or without it.
"""

from __future__ import annotations

import io
import math
import random
import tarfile

Record = dict[str, float | int]


def records(count: int, seed: int = 7, *, shuffle_labels: bool = False, humidity: bool = False) -> list[Record]:
    """``count`` records of the default feature schema, reproducible from ``seed``."""
    generator = random.Random(seed)
    ambient = random.Random(f"humidity-{seed}")
    rows: list[Record] = []
    for _ in range(count):
        air = generator.gauss(300.0, 2.0)
        process = air + generator.gauss(10.0, 1.0)
        speed = max(1100.0, generator.gauss(1540.0, 180.0))
        torque = max(3.0, generator.gauss(40.0, 10.0))
        wear = generator.randint(0, 250)
        vibration = max(0.0, generator.gauss(4.0, 1.5))
        power_kw = torque * speed * 2 * math.pi / 60 / 1000
        score = (
            -9.0 + 0.9 * abs(power_kw - 6.5) + 0.018 * wear + 0.9 * max(0.0, 9.0 - (process - air)) + 0.5 * vibration
        )
        failure = int(generator.random() < 1 / (1 + math.exp(-score)))
        rows.append(
            {
                "failure_within_horizon": failure,
                "air_temperature_k": round(air, 1),
                "process_temperature_k": round(process, 1),
                "rotational_speed_rpm": round(speed),
                "torque_nm": round(torque, 1),
                "tool_wear_min": wear,
                "vibration_mm_s": round(vibration, 2),
            }
        )
        if humidity:
            rows[-1]["humidity_pct"] = round(min(100.0, max(0.0, ambient.gauss(40.0 + 20.0 * failure, 10.0))), 1)
    if shuffle_labels:
        labels = [row["failure_within_horizon"] for row in rows]
        generator.shuffle(labels)
        for row, label in zip(rows, labels, strict=True):
            row["failure_within_horizon"] = label
    return rows


def csv_text(rows: list[Record], columns: list[str], *, header: bool = True) -> str:
    """Rows as CSV text in ``columns`` order, with a header line unless ``header`` is false."""
    lines = [",".join(columns)] if header else []
    lines += [",".join(str(row[column]) for column in columns) for row in rows]
    return "\n".join(lines) + "\n"


def packaged_model(model: bytes) -> bytes:
    """A ``model.tar.gz`` holding ``model`` as ``xgboost-model``, as the built-in XGBoost writes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(model)
        archive.addfile(info, io.BytesIO(model))
    return buffer.getvalue()
