"""Base network files (``.hsbase``) for the meta-learned codec, and meta-training checkpoints.

Both are safetensors files (tensors plus a string-to-string metadata table; reading one
never executes anything). A base network file holds the modulated SIREN's tensors and, in
its metadata, ``format`` = ``hsinr-base``, ``version``, ``config`` (JSON of
:class:`~hsinr.nn.modulated.ModulatedConfig`), ``sha256`` (the content hash) and
``training`` (JSON: how it was made). The content hash is SHA-256 over the canonical
config JSON and every tensor's name, shape, dtype and bytes in name order, so it names
the network, not the file; a ``meta`` file stores its first :data:`HASH_BYTES` bytes.

Loading checks, before building anything, the format and version, the config (typed
fields in sane ranges), that the file holds exactly the expected tensors, each float32 of
the shape the config implies, and the training record's types; then it builds the
network, checks every weight is finite, recomputes the hash and refuses a file that
differs. Every failure is a one-line :class:`BaseNetworkError`.

A checkpoint (``OUT.ckpt`` beside the output) adds Adam's moments, the patch sampler's
random state, the step reached and the loss history, so an interrupted run resumes
exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from hsinr.errors import InputError
from hsinr.io._atomic import atomic_outputs
from hsinr.nn.meta import MetaTraining, PatchSampler, TrainingState
from hsinr.nn.modulated import ModulatedConfig, ModulatedSiren

SUFFIX = ".hsbase"
FORMAT = "hsinr-base"
CHECKPOINT_FORMAT = "hsinr-base-checkpoint"
VERSION = "1"
HASH_BYTES = 16
SHIPPED_NAME = "meta_base.hsbase"
_MODEL = "model."
# training-record fields the codec uses, with their types and allowed ranges
TRAINING_FIELDS: dict[str, tuple[type, float, float]] = {
    "inner_steps": (int, 0, 10_000),
    "inner_lr": (float, 1e-12, 1e6),
}


class BaseNetworkError(InputError):
    """A base network file is missing, damaged, or not the one a compressed file names."""


@dataclass
class BaseNetwork:
    """A loaded base network: the model, its config, content hash and training record."""

    model: ModulatedSiren
    config: ModulatedConfig
    digest: bytes
    training: dict[str, object] = field(default_factory=dict)
    path: Path | None = None
    size: int = 0

    @property
    def hash_prefix(self) -> bytes:
        """The bytes a ``meta`` file stores to name this network."""
        return self.digest[:HASH_BYTES]

    @property
    def name(self) -> str:
        return self.hash_prefix.hex()


def expected_shapes(config: ModulatedConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, computed from the config alone (no allocation)."""
    k, d = config.hidden_layers, config.width
    shapes: dict[str, tuple[int, ...]] = {}
    for index in range(k):
        shapes[f"body.{index}.linear.weight"] = (d, 2 if index == 0 else d)
        shapes[f"body.{index}.linear.bias"] = (d,)
    shapes["head.weight"], shapes["head.bias"] = (config.bands, d), (config.bands,)
    shapes["meta.weight"], shapes["meta.bias"] = (k * d, config.latent_dim), (k * d,)
    return shapes


def content_hash(config: ModulatedConfig, tensors: dict[str, torch.Tensor]) -> bytes:
    """SHA-256 of the config and the tensors (name, shape, dtype, bytes) in name order."""
    digest = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}|{tuple(tensor.shape)}|float32|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.digest()


def _model_tensors(model: ModulatedSiren) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    return {name: value.detach().to("cpu", torch.float32).contiguous()
            for name, value in state.items()}  # fmt: skip


def save_base(
    model: ModulatedSiren, config: ModulatedConfig, path: Path, training: dict[str, object]
) -> BaseNetwork:
    """Write a base network file atomically; returns it as loaded."""
    tensors = _model_tensors(model)
    digest = content_hash(config, tensors)
    metadata = {
        "format": FORMAT, "version": VERSION, "config": json.dumps(config.as_dict()),
        "sha256": digest.hex(), "training": json.dumps(training),
    }  # fmt: skip
    with atomic_outputs(Path(path)) as (temp,):
        save_file({_MODEL + k: v for k, v in tensors.items()}, str(temp), metadata=metadata)
    return load_base(path)


def _checkpoint_extras(config: ModulatedConfig) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """The tensors a checkpoint holds besides the model's: name -> (dtype, shape or None
    for any 1-D length)."""
    extras: dict[str, tuple[str, tuple[int, ...] | None]] = {
        "sampler.rng": ("U8", tuple(torch.Generator().get_state().shape)),
        "history": ("F64", None),
    }
    for index, shape in enumerate(expected_shapes(config).values()):
        extras[f"adam.{index}.step"] = ("F32", (1,))
        extras[f"adam.{index}.exp_avg"] = ("F32", shape)
        extras[f"adam.{index}.exp_avg_sq"] = ("F32", shape)
    return extras


def _read(path: Path, expected_format: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise BaseNetworkError(f"{path}: no such base network file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != expected_format:
                raise BaseNetworkError(f"{path}: not an hsinr {expected_format} file")
            if metadata.get("version") != VERSION:
                raise BaseNetworkError(
                    f"{path}: {expected_format} version {metadata.get('version')!r}; "
                    f"this hsinr reads version {VERSION}"
                )
            config = _config_of(path, metadata)
            wanted = {_MODEL + k: ("F32", v) for k, v in expected_shapes(config).items()}
            if expected_format == CHECKPOINT_FORMAT:
                wanted.update(_checkpoint_extras(config))
            names = set(handle.keys())
            missing = sorted(set(wanted) - names - {n for n in wanted if n.startswith("adam.")})
            unexpected = sorted(names - set(wanted))
            if missing or unexpected:
                raise BaseNetworkError(
                    f"{path}: expected the tensors of its config; "
                    + (f"missing {', '.join(missing[:3])}" if missing else "")
                    + ("; " if missing and unexpected else "")
                    + (f"unexpected {', '.join(unexpected[:3])}" if unexpected else "")
                )
            for name in sorted(names):
                dtype, shape = wanted[name]
                found = handle.get_slice(name)
                found_shape = tuple(found.get_shape())
                if found.get_dtype() != dtype:
                    raise BaseNetworkError(
                        f"{path}: tensor {name} is {found.get_dtype()}, expected {dtype}"
                    )
                if found_shape != shape and not (shape is None and len(found_shape) == 1):
                    raise BaseNetworkError(
                        f"{path}: tensor {name} has shape {found_shape}, the config implies "
                        f"{shape}"
                    )
            tensors = {name: handle.get_tensor(name) for name in names}
    except SafetensorError as exc:
        raise BaseNetworkError(f"{path}: not a readable base network file ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise BaseNetworkError(f"{path}: damaged base network file ({exc})") from exc
    return metadata, tensors


def _json_field(path: Path, metadata: dict[str, str], key: str, kind: type, default: str):
    """A metadata entry parsed as JSON and checked to be a ``kind``."""
    try:
        value = json.loads(metadata.get(key, default))
    except (ValueError, RecursionError) as exc:
        raise BaseNetworkError(f"{path}: its {key} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise BaseNetworkError(f"{path}: its {key} is not a JSON {kind.__name__}")
    return value


def _config_of(path: Path, metadata: dict[str, str]) -> ModulatedConfig:
    if "config" not in metadata:
        raise BaseNetworkError(f"{path}: invalid base network config (none recorded)")
    fields = _json_field(path, metadata, "config", dict, "{}")
    try:
        return ModulatedConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise BaseNetworkError(f"{path}: invalid base network config ({exc})") from exc


def _training_of(path: Path, metadata: dict[str, str]) -> dict[str, object]:
    """The training record: a JSON object whose fields the codec uses are checked."""
    training = _json_field(path, metadata, "training", dict, "{}")
    for key, (kind, low, high) in TRAINING_FIELDS.items():
        if key not in training:
            continue
        value = training[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (kind is int and not isinstance(value, int)):
            raise BaseNetworkError(f"{path}: training {key} must be a {kind.__name__}")
        if not (math.isfinite(value) and low <= value <= high):
            raise BaseNetworkError(f"{path}: training {key} = {value!r} is out of range")
    return training


def _build(
    path: Path, metadata: dict[str, str], tensors: dict[str, torch.Tensor]
) -> tuple[ModulatedSiren, ModulatedConfig, bytes]:
    config = _config_of(path, metadata)
    weights = {k[len(_MODEL) :]: v.float() for k, v in tensors.items() if k.startswith(_MODEL)}
    if not all(torch.isfinite(t).all() for t in weights.values()):
        raise BaseNetworkError(f"{path}: the base network holds NaN or Inf weights")
    model = ModulatedSiren.from_config(config)
    model.load_state_dict(weights, strict=True)
    model.eval()
    return model, config, content_hash(config, weights)


def load_base(path: str | Path) -> BaseNetwork:
    """Read and check a base network file (see the module notes for the checks)."""
    path = Path(path)
    metadata, tensors = _read(path, FORMAT)
    model, config, digest = _build(path, metadata, tensors)
    if metadata.get("sha256") != digest.hex():
        raise BaseNetworkError(
            f"{path}: the content hash does not match the one the file records; it is damaged"
        )
    training = _training_of(path, metadata)
    return BaseNetwork(model, config, digest, training, path, path.stat().st_size)


def shipped_base_path() -> Path:
    """The base network shipped with hsinr (trained as docs/METHODS.md says)."""
    return Path(str(resources.files("hsinr") / "data" / SHIPPED_NAME))


def resolve_base(base: str | Path | BaseNetwork | None) -> BaseNetwork:
    """``base`` itself, the file it names, or (``None``) the shipped base network."""
    if isinstance(base, BaseNetwork):
        return base
    return load_base(shipped_base_path() if base is None else base)


# -- checkpoints -------------------------------------------------------------------------


def checkpoint_path(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + ".ckpt")


def save_checkpoint(
    path: Path,
    model: ModulatedSiren,
    config: ModulatedConfig,
    settings: MetaTraining,
    state: TrainingState,
    training: dict[str, object],
) -> None:
    """Everything needed to resume, written atomically."""
    tensors = {_MODEL + k: v for k, v in _model_tensors(model).items()}
    optimizer = state.optimizer.state_dict()
    for index, moments in optimizer["state"].items():
        for key, value in moments.items():
            value = torch.as_tensor(value).float()
            tensors[f"adam.{index}.{key}"] = value.reshape(1) if key == "step" else value
    tensors["sampler.rng"] = state.sampler.generator.get_state()
    tensors["history"] = torch.tensor(state.history, dtype=torch.float64).reshape(-1)
    metadata = {
        "format": CHECKPOINT_FORMAT, "version": VERSION,
        "config": json.dumps(config.as_dict()), "settings": json.dumps(vars(settings)),
        "step": str(state.step), "param_groups": json.dumps(optimizer["param_groups"]),
        "training": json.dumps(training),
    }  # fmt: skip
    with atomic_outputs(Path(path)) as (temp,):
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(temp), metadata=metadata)


@dataclass
class Checkpoint:
    model: ModulatedSiren
    config: ModulatedConfig
    settings: dict[str, object]
    step: int
    training: dict[str, object]
    _tensors: dict[str, torch.Tensor]
    _param_groups: list[dict]

    def restore(self, sampler: PatchSampler, settings: MetaTraining) -> TrainingState:
        """The training state as saved, for ``settings`` (Adam's lr follows ``settings``);
        a damaged optimiser record is a :class:`BaseNetworkError`."""
        try:
            return self._restore(sampler, settings)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise BaseNetworkError(f"damaged checkpoint: its optimiser state ({exc})") from exc

    def _restore(self, sampler: PatchSampler, settings: MetaTraining) -> TrainingState:
        optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.outer_lr)
        state = optimizer.state_dict()
        state["param_groups"] = self._param_groups
        for group in state["param_groups"]:
            group["lr"] = settings.outer_lr
        n_params = len(list(self.model.parameters()))
        state["state"] = {}
        for index in range(n_params):
            moments = {}
            for key in ("step", "exp_avg", "exp_avg_sq"):
                tensor = self._tensors.get(f"adam.{index}.{key}")
                if tensor is not None:
                    moments[key] = tensor.reshape(()) if key == "step" else tensor
            if moments:
                state["state"][index] = moments
        optimizer.load_state_dict(state)
        sampler.generator.set_state(self._tensors["sampler.rng"])
        history = self._tensors["history"].tolist()
        return TrainingState(self.step, optimizer, sampler, history)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (every tensor's name, dtype and
    shape and every metadata field's type checked, as for base networks)."""
    path = Path(path)
    metadata, tensors = _read(path, CHECKPOINT_FORMAT)
    model, config, _ = _build(path, metadata, tensors)
    settings = _json_field(path, metadata, "settings", dict, "null")
    param_groups = _json_field(path, metadata, "param_groups", list, "null")
    training = _training_of(path, metadata)
    step_text = metadata.get("step", "")
    if not step_text.isdigit() or len(step_text) > 12:
        raise BaseNetworkError(f"{path}: damaged checkpoint (step {step_text[:20]!r})")
    kept = {k: v for k, v in tensors.items() if not k.startswith(_MODEL)}
    return Checkpoint(model, config, settings, int(step_text), training, kept, param_groups)
