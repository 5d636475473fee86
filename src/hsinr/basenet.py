"""Base network files (``.hsbase``) for the meta-learned codec, and meta-training checkpoints.

Both are safetensors files (tensors plus a string-to-string metadata table; reading one
never executes anything). A base network file holds the modulated SIREN's tensors and, in
its metadata, ``format`` = ``hsinr-base``, ``version``, ``config`` (JSON of
:class:`~hsinr.nn.modulated.ModulatedConfig`), ``sha256`` (the content hash) and
``training`` (JSON: how it was made). The content hash is SHA-256 over the canonical
config JSON and every tensor's name, shape, dtype and bytes in name order, so it names
the network, not the file; a ``meta`` file stores its first :data:`HASH_BYTES` bytes.

Loading checks format, version, config limits and every tensor's shape against the config
before building anything, then recomputes the hash and refuses a file that differs.

A checkpoint (``OUT.ckpt`` beside the output) adds Adam's moments, the patch sampler's
random state, the step reached and the loss history, so an interrupted run resumes
exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import json
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
            names = set(handle.keys())
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in names}
            wanted = {_MODEL + k: v for k, v in expected_shapes(config).items()}
            for name, shape in wanted.items():
                if shapes.get(name) != shape:
                    raise BaseNetworkError(
                        f"{path}: tensor {name} has shape {shapes.get(name)}, the config "
                        f"implies {shape}"
                    )
            tensors = {name: handle.get_tensor(name) for name in names}
    except SafetensorError as exc:
        raise BaseNetworkError(f"{path}: not a readable base network file ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise BaseNetworkError(f"{path}: damaged base network file ({exc})") from exc
    return metadata, tensors


def _config_of(path: Path, metadata: dict[str, str]) -> ModulatedConfig:
    try:
        fields = json.loads(metadata["config"])
        return ModulatedConfig(**fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise BaseNetworkError(f"{path}: invalid base network config ({exc})") from exc


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
    try:
        training = json.loads(metadata.get("training", "{}"))
    except ValueError:
        training = {}
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
        """The training state as saved, for ``settings`` (Adam's lr follows ``settings``)."""
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
    """Read a checkpoint written by :func:`save_checkpoint`."""
    metadata, tensors = _read(Path(path), CHECKPOINT_FORMAT)
    model, config, _ = _build(Path(path), metadata, tensors)
    try:
        settings = json.loads(metadata["settings"])
        step = int(metadata["step"])
        param_groups = json.loads(metadata["param_groups"])
        training = json.loads(metadata.get("training", "{}"))
    except (KeyError, ValueError) as exc:
        raise BaseNetworkError(f"{path}: damaged checkpoint ({exc})") from exc
    adam = {k: v for k, v in tensors.items() if k.startswith("adam.")}
    for name, tensor in adam.items():
        index, key = name.split(".")[1:]
        param = dict(model.named_parameters()).get(_param_name(model, int(index)))
        if key != "step" and (param is None or tensor.numel() != param.numel()):
            raise BaseNetworkError(f"{path}: damaged checkpoint (optimiser tensor {name})")
        if key != "step":
            adam[name] = tensor.reshape(param.shape)
    kept = {**adam, "sampler.rng": tensors["sampler.rng"], "history": tensors["history"]}
    return Checkpoint(model, config, settings, step, training, kept, param_groups)


def _param_name(model: ModulatedSiren, index: int) -> str | None:
    names = [name for name, _ in model.named_parameters()]
    return names[index] if 0 <= index < len(names) else None
