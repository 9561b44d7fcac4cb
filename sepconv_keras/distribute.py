"""``sepconv-keras train --strategy``: which ``tf.distribute`` strategy trains the model.

* ``default``: one device (TensorFlow's default strategy).
* ``mirrored``: ``MirroredStrategy`` over the GPUs of this machine (the CPU when there is none);
  ``cpu_replicas=N`` splits the CPU into N logical devices instead, one replica each (to run the
  multi-replica path on a CPU-only machine).
* ``multi-worker``: ``MultiWorkerMirroredStrategy``, one process per machine (or per GPU), the
  cluster given by ``TF_CONFIG``; worker 0 is the chief, the only one that writes outputs.

In every case the global batch (``--batch-size``) is split over the replicas and their gradients
are summed, so the updates are those of one device at the global batch.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["STRATEGIES", "is_chief", "make_strategy", "num_workers", "prepare_multi_worker"]

STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multi-worker")


def make_strategy(name: str, cpu_replicas: int | None = None) -> Any:
    """The ``tf.distribute.Strategy`` called ``name``; create it before any other TensorFlow work."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, received {name!r}")
    if cpu_replicas is not None and (name != "mirrored" or cpu_replicas < 1):
        raise ValueError(
            f"--cpu-replicas needs --strategy mirrored and a positive count, received "
            f"--strategy {name} --cpu-replicas {cpu_replicas}"
        )
    if name == "multi-worker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise ValueError(
                "--strategy multi-worker: TF_CONFIG is not set; it must describe the cluster, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        try:
            json.loads(config)
        except json.JSONDecodeError as e:
            raise ValueError(f"--strategy multi-worker: TF_CONFIG is not valid JSON ({e})") from e
    from sepconv.compat import import_tensorflow

    tf = import_tensorflow()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if cpu_replicas is None:
            return tf.distribute.MirroredStrategy()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
        )
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: Any) -> bool:
    """True for the process that writes outputs: the only one, or the chief/worker 0 of a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def num_workers(strategy: Any) -> int:
    """Processes taking part in training (1 unless multi-worker)."""
    return int(getattr(getattr(strategy, "extended", None), "_num_workers", 1) or 1)


def prepare_multi_worker(model: Any, strategy: Any, x: Any, y: Any) -> None:
    """Build ``model``'s optimizer and metrics from a local batch ``(x, y)`` before a multi-worker ``fit``.

    Keras 3's ``fit`` builds them from the first distributed batch by a ``strategy.reduce`` that fails
    under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a value (PerReplica...)", keras-team/keras
    issue 20585). Building here, in the strategy's scope, and skipping that step does the same work.
    The same issue makes ``fit`` reduce its scalar logs with ``strategy.reduce("MEAN", v, axis=0)``,
    which fails on scalars: this strategy's ``reduce`` averages scalars over the replicas instead.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=(x, y))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    reduce = strategy.reduce

    def reduce_scalars_too(reduce_op: Any, value: Any, axis: int | None = None) -> Any:
        local = strategy.experimental_local_results(value)
        if (
            axis is not None
            and local
            and getattr(local[0], "shape", None) is not None
            and local[0].shape.rank == 0
        ):
            axis = None
        return reduce(reduce_op, value, axis=axis)

    strategy.reduce = reduce_scalars_too
