"""What users do with the data: the benchmark's tasks, run on the original and on the
decoded cube, so that a codec's loss is measured by what it changes in a result.

``classify``
    A pixel classifier on the scene's ground-truth map: scikit-learn's
    ``RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)`` on the raw
    spectra (a forest needs no scaling of the bands), trained on a fixed stratified split
    (:func:`stratified_split`: 10 % of each class's labelled pixels, at least 5, seed 0;
    label 0 = unlabelled, left out; a class with fewer than 10 labelled pixels is left
    out) and tested on the rest. The same split, and the same forest, are used on the
    original and on the decoded cube; the row gets the overall accuracy and Cohen's kappa
    of both (``oa``, ``kappa``, ``oa_original``, ``kappa_original``).
``unmix``
    Linear unmixing: ``k`` endmembers (4 unless told) found by VCA (:func:`vca`, seed 0)
    on the ORIGINAL, then the abundances of every pixel by FCLS (:func:`fcls`: NNLS with
    a heavily weighted sum-to-one row) on the original and on the decoded cube with those
    same endmembers. The row gets the RMSE between the two abundance maps
    (``abundance_rmse``, in abundance fractions: 0.01 = one percentage point). At most
    20,000 pixels are unmixed (a fixed random sample, seed 0), so a big scene stays quick.

The original's side is computed once per scene (:meth:`Reference.of`), then each decoded
cube is measured against it (:meth:`Reference.evaluate`). scikit-learn is needed for
``classify`` only (``pip install "hsinr[tasks]"``) and is imported when first used.

>>> import numpy as np
>>> from hsinr.bench import tasks
>>> labels = np.repeat([0, 1, 2, 3], 30).reshape(12, 10)  # 0: unlabelled
>>> train, test = tasks.stratified_split(labels)
>>> len(train), len(test)                       # 5 of each class's 30 pixels train
(15, 75)
>>> rng = np.random.default_rng(0)
>>> endmembers = rng.uniform(0.1, 1.0, (3, 20))  # 3 spectra of 20 bands
>>> fractions = rng.dirichlet(np.ones(3), 50)   # 50 pixels, abundances summing to one
>>> pixels = fractions @ endmembers
>>> bool(np.allclose(tasks.fcls(pixels, endmembers), fractions, atol=1e-3))
True
>>> sorted(int(i) for i in tasks.vca(np.vstack([endmembers, pixels]), 3))  # the pure pixels
[0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError

TASKS = ("classify", "unmix")
COLUMNS: dict[str, tuple[str, ...]] = {
    "classify": ("oa", "kappa", "oa_original", "kappa_original"),
    "unmix": ("abundance_rmse",),
}
CLASSIFIER = "RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)"
TRAIN_FRACTION = 0.1
MIN_TRAIN = 5  # training pixels per class at least; as many are kept for testing
SEED = 0
ENDMEMBERS = 4
MAX_UNMIX_PIXELS = 20_000
SUM_TO_ONE_WEIGHT = 100.0  # the FCLS row's weight, the spectra scaled to at most 1
INSTALL = 'pip install "hsinr[tasks]"'

DEFINITIONS = (
    f"classify: {CLASSIFIER} on the raw spectra, trained on a fixed stratified split "
    f"({TRAIN_FRACTION:.0%} of each class's labelled pixels, at least {MIN_TRAIN}, seed {SEED}; "
    f"label 0 and classes of fewer than {2 * MIN_TRAIN} pixels left out) and tested on the "
    "other labelled pixels, once on the original and once on the decoded cube with the same "
    "split; OA = overall accuracy, kappa = Cohen's kappa. unmix: endmembers by VCA (seed 0) "
    "on the original, abundances by FCLS (NNLS with a sum-to-one row of weight "
    f"{SUM_TO_ONE_WEIGHT:g}, spectra scaled to at most 1) on the original and on the decoded "
    "cube with the same endmembers, at most "
    f"{MAX_UNMIX_PIXELS:,} pixels (a fixed random sample); abundance_rmse = RMSE of the decoded "
    "cube's abundances against the original's, in abundance fractions."
)


def require_sklearn(task: str = "classify") -> None:
    """Raise :class:`InputError` saying how to install scikit-learn when it is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise InputError(f"--task {task} needs scikit-learn: {INSTALL}") from None


def settings(tasks: Sequence[str], endmembers: int | None = None) -> dict[str, dict[str, object]]:
    """The settings of the tasks asked for, recorded in each row (a row made with other
    settings is run again); unknown tasks and a missing scikit-learn are refused here.

    >>> settings(["unmix"], endmembers=3)["unmix"]["endmembers"]
    3
    """
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise InputError(f"unknown task {', '.join(unknown)}; tasks: {', '.join(TASKS)}")
    if endmembers is not None and "unmix" not in tasks:
        raise InputError("--endmembers applies to --task unmix")
    k = ENDMEMBERS if endmembers is None else int(endmembers)
    if k < 2:
        raise InputError(f"--endmembers must be at least 2, not {k}")
    chosen: dict[str, dict[str, object]] = {}
    if "classify" in tasks:
        require_sklearn("classify")
        chosen["classify"] = {"classifier": CLASSIFIER, "train_fraction": TRAIN_FRACTION,
                              "min_train": MIN_TRAIN, "seed": SEED}  # fmt: skip
    if "unmix" in tasks:
        chosen["unmix"] = {"endmembers": k, "method": "VCA + FCLS", "seed": SEED,
                           "max_pixels": MAX_UNMIX_PIXELS, "weight": SUM_TO_ONE_WEIGHT}  # fmt: skip
    return chosen


def covers(done: Mapping[str, object] | None, wanted: Mapping[str, object]) -> bool:
    """Whether a row made with task settings ``done`` has every task in ``wanted``."""
    done = done or {}
    return all(done.get(task) == value for task, value in wanted.items())


# -- classification -----------------------------------------------------------------------


def stratified_split(
    labels: np.ndarray, fraction: float = TRAIN_FRACTION, minimum: int = MIN_TRAIN,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Training and test pixels (flat indices into ``labels``, sorted), class by class:
    ``max(minimum, round(fraction * n))`` of a class's ``n`` labelled pixels train, at
    least ``minimum`` are left to test, the rest test. Label 0 (unlabelled) and classes of
    fewer than ``2 * minimum`` pixels are left out. The same labels and seed give the
    same split.
    """
    flat = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for value in np.unique(flat):
        members = np.flatnonzero(flat == value)
        if value == 0 or members.size < 2 * minimum:
            continue
        count = min(max(minimum, round(fraction * members.size)), members.size - minimum)
        shuffled = rng.permutation(members)
        train.append(shuffled[:count])
        test.append(shuffled[count:])
    if not train:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Overall accuracy and Cohen's kappa of ``predicted`` against ``truth``.

    >>> accuracy(np.array([1, 1, 2, 2]), np.array([1, 1, 2, 1]))
    (0.75, 0.5)
    """
    truth, predicted = np.asarray(truth).reshape(-1), np.asarray(predicted).reshape(-1)
    classes, index = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    n = truth.size
    confusion = np.zeros((classes.size, classes.size))
    np.add.at(confusion, (index[:n], index[n:]), 1)
    observed = np.trace(confusion) / n
    expected = float(confusion.sum(axis=0) @ confusion.sum(axis=1)) / n**2
    kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return float(observed), float(kappa)


def classify(spectra: np.ndarray, labels: np.ndarray, train: np.ndarray,
             test: np.ndarray) -> tuple[float, float]:  # fmt: skip
    """OA and kappa of the forest trained on ``spectra[train]`` (pixels x bands) and
    tested on ``spectra[test]``."""
    require_sklearn()
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)
    forest.fit(spectra[train], labels[train])
    return accuracy(labels[test], forest.predict(spectra[test]))


# -- unmixing -----------------------------------------------------------------------------


def vca(pixels: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Vertex component analysis (Nascimento and Bioucas-Dias, 2005): the indices of the
    ``k`` rows of ``pixels`` (pixels x bands) taken as endmembers, the purest pixels.

    Projects onto the k-dimensional signal subspace (after removing the mean when the
    estimated SNR is low, else projectively), then repeatedly picks the pixel most extreme
    along a random direction orthogonal to the endmembers found so far (``seed`` fixes the
    directions). Data whose projective normalisation is not positive everywhere (negative
    values) take the low-SNR branch.
    """
    data = np.asarray(pixels, np.float64).T  # bands x pixels
    bands, count = data.shape
    if not 2 <= k <= min(bands, count):
        raise InputError(f"{k} endmembers need at least {k} bands and pixels; the scene "
                         f"has {bands} bands, {count} pixels")  # fmt: skip
    mean = data.mean(axis=1, keepdims=True)
    centred = data - mean
    basis = np.linalg.svd(centred @ centred.T / count)[0][:, :k]
    projected = basis.T @ centred
    power_data = float(np.sum(data**2)) / count
    power_signal = float(np.sum(projected**2)) / count + float(np.sum(mean**2))
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10 * np.log10((power_signal - k / bands * power_data)
                            / (power_data - power_signal))  # fmt: skip
    simplex = None
    if not snr < 15 + 10 * np.log10(k):  # high SNR (or noise-free): projective projection
        subspace = np.linalg.svd(data @ data.T / count)[0][:, :k]
        coordinates = subspace.T @ data
        scale = coordinates.mean(axis=1) @ coordinates
        if np.all(scale > 1e-12 * np.abs(scale).max()):
            simplex = coordinates / scale
    if simplex is None:  # low SNR: the mean removed, one dimension fewer, lifted by a constant
        lower = projected[: k - 1]
        lift = np.sqrt((lower**2).sum(axis=0)).max()
        simplex = np.vstack([lower, np.full((1, count), lift)])
    rng = np.random.default_rng(seed)
    found = np.zeros((k, k))
    found[-1, 0] = 1
    chosen = np.zeros(k, np.int64)
    for i in range(k):
        direction = rng.random(k)
        direction -= found @ np.linalg.pinv(found) @ direction
        direction /= np.linalg.norm(direction)
        chosen[i] = int(np.argmax(np.abs(direction @ simplex)))
        found[:, i] = simplex[:, chosen[i]]
    return chosen


def fcls(pixels: np.ndarray, endmembers: np.ndarray,
         weight: float = SUM_TO_ONE_WEIGHT) -> np.ndarray:  # fmt: skip
    """Fully constrained least squares abundances (pixels x endmembers): per pixel, NNLS
    (``scipy.optimize.nnls``) against the endmembers with a row of ``weight`` appended to
    both, which pulls the abundances to sum to one (Heinz and Chang, 2001). Spectra are
    expected scaled to at most about 1 (the weight is relative to them)."""
    from scipy.optimize import nnls

    spectra = np.asarray(pixels, np.float64)
    system = np.vstack([np.asarray(endmembers, np.float64).T,
                        np.full((1, len(endmembers)), weight)])  # fmt: skip
    target = np.empty(system.shape[0])
    target[-1] = weight
    abundances = np.empty((spectra.shape[0], system.shape[1]))
    for i, spectrum in enumerate(spectra):
        target[:-1] = spectrum
        abundances[i] = nnls(system, target)[0]
    return abundances


def unmix_sample(pixels: int, maximum: int = MAX_UNMIX_PIXELS, seed: int = SEED) -> np.ndarray:
    """The pixels unmixed (sorted flat indices): all of them, or a fixed random ``maximum``.

    >>> unmix_sample(5).tolist(), unmix_sample(10**6).size
    ([0, 1, 2, 3, 4], 20000)
    """
    if pixels <= maximum:
        return np.arange(pixels)
    return np.sort(np.random.default_rng(seed).choice(pixels, maximum, replace=False))


# -- a scene's reference, and a decoded cube measured against it --------------------------


def _spectra(cube: Cube | np.ndarray) -> np.ndarray:
    """(pixels, bands) float32 spectra of a cube or an array."""
    data = cube.read() if isinstance(cube, Cube) else np.asarray(cube)
    return np.asarray(data, np.float32).reshape(-1, data.shape[-1])


@dataclass
class Reference:
    """The original's side of the tasks for one scene, computed once and kept while its
    decoded cubes are measured. ``notes`` says, per task, why it was not run."""

    settings: dict[str, dict[str, object]]
    notes: dict[str, str] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)
    labels: np.ndarray | None = None
    train: np.ndarray | None = None
    test: np.ndarray | None = None
    original: dict[str, float] = field(default_factory=dict)
    sample: np.ndarray | None = None
    endmembers: np.ndarray | None = None
    abundances: np.ndarray | None = None
    scale: float = 1.0

    @classmethod
    def of(cls, cube: Cube | np.ndarray, settings: Mapping[str, Mapping[str, object]],
           labels: np.ndarray | None = None, why_no_labels: str = "") -> Reference:  # fmt: skip
        """The reference of ``cube`` for the tasks in ``settings`` (from :func:`settings`);
        ``labels`` is its ground-truth map (rows x cols), or None and ``why_no_labels``."""
        reference = cls({task: dict(value) for task, value in settings.items()})
        spectra = _spectra(cube)
        if "classify" in settings:
            reference._prepare_classify(spectra, labels, why_no_labels)
        if "unmix" in settings:
            reference._prepare_unmix(spectra, int(settings["unmix"]["endmembers"]))
        return reference

    def _prepare_classify(self, spectra, labels, why_no_labels: str) -> None:
        if labels is None:
            self.notes["classify"] = why_no_labels or "no ground-truth map"
            return
        labels = np.asarray(labels).reshape(-1)
        if labels.size != spectra.shape[0]:
            self.notes["classify"] = (f"the ground-truth map has {labels.size} pixels, the "
                                      f"cube {spectra.shape[0]}")  # fmt: skip
            return
        train, test = stratified_split(labels)
        classes = np.unique(labels[train])
        if classes.size < 2:
            self.notes["classify"] = (f"fewer than 2 classes with {2 * MIN_TRAIN} or more "
                                      "labelled pixels")  # fmt: skip
            return
        self.labels, self.train, self.test = labels, train, test
        oa, kappa = classify(spectra, labels, train, test)
        self.original.update(oa_original=oa, kappa_original=kappa)
        self.details.update(classes=int(classes.size), train_pixels=int(train.size),
                            test_pixels=int(test.size))  # fmt: skip

    def _prepare_unmix(self, spectra, k: int) -> None:
        sample = unmix_sample(spectra.shape[0])
        pixels = spectra[sample].astype(np.float64)
        self.scale = float(np.abs(pixels).max()) or 1.0
        pixels /= self.scale
        try:
            chosen = vca(pixels, k)
        except InputError as exc:
            self.notes["unmix"] = str(exc)
            return
        self.sample, self.endmembers = sample, pixels[chosen]
        self.abundances = fcls(pixels, self.endmembers)
        self.details.update(unmixed_pixels=int(sample.size),
                            endmember_pixels=[int(i) for i in sample[chosen]])  # fmt: skip

    def evaluate(self, decoded: Cube | np.ndarray) -> dict[str, object]:
        """The task columns of a decoded cube (empty where a task was not run), its
        settings (``tasks``), the original's numbers and ``task_notes``."""
        row: dict[str, object] = {"tasks": self.settings}
        for task in self.settings:
            row.update(dict.fromkeys(COLUMNS[task]))
        row.update(self.original)
        notes = dict(self.notes)
        spectra = _spectra(decoded)
        try:
            if self.labels is not None:
                row["oa"], row["kappa"] = classify(spectra, self.labels, self.train, self.test)
            if self.endmembers is not None:
                pixels = spectra[self.sample].astype(np.float64) / self.scale
                difference = fcls(pixels, self.endmembers) - self.abundances
                row["abundance_rmse"] = float(np.sqrt(np.mean(difference**2)))
        except (ValueError, InputError) as exc:  # e.g. non-finite decoded values
            notes.setdefault("error", f"{type(exc).__name__}: {exc}")
        row["task_details"] = dict(self.details)
        row["task_notes"] = "; ".join(f"{task}: {why}" for task, why in notes.items())
        return row
