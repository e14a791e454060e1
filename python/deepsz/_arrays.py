"""Arrays in and out of the codec: NumPy arrays and torch tensors as float32
buffers, read in place when they already are C-contiguous native float32 and
decoded straight into the buffer of the array returned."""

import math
import numbers
import os

from . import _deepsz

Error = _deepsz.Error

#: Threads used when none are given: every core (the output does not depend on it).
_MAX_THREADS = 1024


def _numpy():
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - exercised only without numpy
        raise ImportError("deepsz needs NumPy for arrays (Debian: apt-get install python3-numpy)") from e
    return numpy


def _error(message, code="invalid_argument"):
    e = Error(message)
    e.code = code
    return e


def resolve_threads(threads):
    if threads is None:
        return max(1, min(_MAX_THREADS, os.cpu_count() or 1))
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"threads must be an integer, not {type(threads).__name__}")
    if not 1 <= threads <= _MAX_THREADS:
        raise _error(f"threads must be between 1 and {_MAX_THREADS}, got {threads}")
    return int(threads)


def check_bound(abs_error, what="abs_error"):
    if isinstance(abs_error, bool) or not isinstance(abs_error, numbers.Real):
        raise TypeError(f"{what} must be a real number, not {type(abs_error).__name__}")
    value = float(abs_error)
    if math.isnan(value) or math.isinf(value) or value < 0.0:
        raise _error(f"{what} must be finite and >= 0, got {value!r}")
    return value


def is_torch_tensor(x):
    # Without importing torch: the package works where it is not installed.
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def as_float32(x, what="array"):
    """A C-contiguous native float32 ndarray viewing `x` when it can (a
    CPU tensor, a contiguous array), else a contiguous copy."""
    np = _numpy()
    if is_torch_tensor(x):
        import torch

        if x.dtype != torch.float32:
            raise TypeError(f"{what} must be float32, got a tensor of {x.dtype}")
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        # numpy() shares the tensor's memory and keeps it alive.
        return x.contiguous().numpy()
    if not isinstance(x, np.ndarray):
        try:
            memoryview(x)
        except TypeError:
            raise TypeError(
                f"{what} must be a float32 numpy array or torch tensor, not {type(x).__name__}"
            ) from None
        x = np.asarray(x)
    if x.dtype.kind != "f" or x.dtype.itemsize != 4:
        raise TypeError(f"{what} must be float32, got dtype {x.dtype}")
    if not x.flags.c_contiguous or not x.dtype.isnative:
        x = x.astype(np.float32, order="C")  # keeps 0-d (ascontiguousarray would not)
    return x


def encode(array, abs_error, *, threads=None, codec="dsz", predictor="auto", sparse=False, name="data"):
    """Compresses a float32 array or tensor of any shape into the bytes of a
    one-tensor .dsz container (`dsz info` reads it).

    Every finite value comes back within `abs_error` (absolute; 0 =
    lossless); NaN and infinities come back bit for bit. `codec` is "dsz",
    "zfp" or "lossless"; `sparse` stores the positions of the nonzeros and
    only their values (zeros stay exactly zero). The GIL is released while
    coding, and `threads` (default: every core) do not change the bytes.
    """
    bound = check_bound(abs_error)
    data = as_float32(array)
    if data.ndim > _deepsz.MAX_TENSOR_RANK:
        raise _error(f"array has {data.ndim} dimensions (at most {_deepsz.MAX_TENSOR_RANK})")
    return _deepsz.encode_blob(
        name, data, bound, codec, predictor, bool(sparse), resolve_threads(threads), [("creator", "deepsz-python")]
    )


def entry_array(entry, threads, out=None, max_bytes=_deepsz.DEFAULT_MAX_DECODED_BYTES):
    """Decodes one entry into `out` (checked) or into a new ndarray."""
    np = _numpy()
    shape = tuple(int(d) for d in entry.shape)
    if out is None:
        if max_bytes and entry.elements * 4 > max_bytes:
            raise _error(
                f"tensor '{entry.name}' decodes to {entry.elements * 4} bytes, above the limit of "
                f"{max_bytes} bytes (max_bytes=)",
                "too_large",
            )
        target = np.empty(shape, dtype=np.float32)
        _deepsz.decode_into(entry, target, threads)
        return target
    view = out
    if is_torch_tensor(out):
        if out.device.type != "cpu":
            raise _error("out must be a CPU tensor")
        view = out.detach().numpy()
    if not isinstance(view, np.ndarray) or view.dtype != np.float32 or not view.dtype.isnative:
        raise TypeError("out must be a native float32 numpy array or torch tensor")
    if tuple(view.shape) != shape:
        raise _error(f"out has shape {tuple(view.shape)}, the blob holds {shape}")
    if not view.flags.c_contiguous or not view.flags.writeable:
        raise _error("out must be C-contiguous and writable")
    _deepsz.decode_into(entry, view, threads)
    return out


def decode(blob, *, threads=None, out=None, as_tensor=False, max_bytes=_deepsz.DEFAULT_MAX_DECODED_BYTES):
    """The array of a blob made by `encode` (shape kept, float32), decoded
    straight into the returned array's memory (or into `out`, an array or
    CPU tensor of the right shape). `as_tensor` returns a torch tensor
    sharing that memory. A damaged or truncated blob raises deepsz.Error
    (a ValueError); a blob whose array would exceed `max_bytes` (default
    16 GiB; 0 = no limit) is refused before anything is allocated."""
    if isinstance(blob, str):
        raise TypeError("blob must be bytes, not str")
    try:
        memoryview(blob)
    except TypeError:
        raise TypeError(f"blob must be bytes or a byte buffer, not {type(blob).__name__}") from None
    threads = resolve_threads(threads)
    _, entries = _deepsz.parse(blob)
    if len(entries) != 1:
        raise _error(
            f"the blob holds {len(entries)} tensors; decode reads one (deepsz.decompress reads a model file)"
        )
    result = entry_array(entries[0], threads, out, max_bytes)
    if as_tensor and out is None:
        import torch

        return torch.from_numpy(result)
    return result
