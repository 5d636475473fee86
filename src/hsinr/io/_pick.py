"""Choosing which array in a multi-variable file (``.mat``, ``.npz``) is the cube."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from hsinr.errors import InputError

Shape = tuple[int, ...]


def _listing(shapes: Mapping[str, Shape], limit: int = 12) -> str:
    items = [f"{key} ({' x '.join(map(str, shape)) or 'scalar'})" for key, shape in shapes.items()]
    if len(items) > limit:
        items = [*items[:limit], f"... {len(items) - limit} more"]
    return ", ".join(items) or "nothing"


def _size(shape: Shape) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def pick_cube_variable(
    shapes: Mapping[str, Shape],
    numeric: Collection[str],
    var: str | None,
    where: str,
    *,
    pixel_count: int | None = None,
) -> str:
    """The name of the variable that holds the cube.

    ``var`` when given (it must exist and be numeric); otherwise the largest numeric 3-D
    array; otherwise, when ``pixel_count`` (rows x cols from the file) is known, the largest
    numeric 2-D array with an axis of that length (the bands x pixels layout).
    Raises :class:`InputError` naming what the file holds when nothing fits.
    """
    if var is not None:
        if var not in shapes:
            raise InputError(f"{where}: no variable '{var}'; it holds: {_listing(shapes)}")
        if var not in numeric:
            raise InputError(f"{where}: variable '{var}' is not numeric")
        return var
    cubes = [key for key, shape in shapes.items() if len(shape) == 3 and key in numeric]
    if not cubes and pixel_count:
        cubes = [
            key
            for key, shape in shapes.items()
            if len(shape) == 2 and key in numeric and pixel_count in shape
        ]
    if cubes:
        return max(cubes, key=lambda key: _size(shapes[key]))
    non_numeric = [key for key, shape in shapes.items() if len(shape) == 3]
    if non_numeric:
        raise InputError(
            f"{where}: the 3-D array '{non_numeric[0]}' is not numeric; no cube to read"
        )
    raise InputError(
        f"{where}: no 3-D cube found (looked for a 3-D numeric array or a bands x pixels "
        f"matrix with nRow / nCol); it holds: {_listing(shapes)}"
    )
