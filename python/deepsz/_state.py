"""State dicts in and out of .dsz files: the float32 tensors are coded by
the codec; the others (integer buffers such as BatchNorm's
num_batches_tracked, float64, bfloat16, bool) travel bit for bit in the
file's metadata, so that decompress gives back everything load_state_dict
expects, in the order of the original."""

import base64
import collections
import json

from . import _arrays

EXTRAS_KEY = "deepsz.python.extras"  # JSON: name -> {dtype, shape, kind, data (base64)}
ORDER_KEY = "deepsz.python.order"    # JSON: every name, in the state dict's order
# A metadata value holds at most 16 MiB (docs/FORMAT.md); base64 adds a third.
_MAX_EXTRA_BYTES = 12 << 20


def state_dict_of(model_or_state_dict):
    if hasattr(model_or_state_dict, "state_dict") and callable(model_or_state_dict.state_dict):
        sd = model_or_state_dict.state_dict()
    else:
        sd = model_or_state_dict
    if not hasattr(sd, "items"):
        raise TypeError(f"expected a torch.nn.Module or a state dict, not {type(model_or_state_dict).__name__}")
    for name in sd:
        if not isinstance(name, str) or not name:
            raise _arrays._error(f"state dict keys must be non-empty strings, got {name!r}")
    return collections.OrderedDict(sd.items())


def is_float32(value):
    if _arrays.is_torch_tensor(value):
        import torch

        return value.dtype == torch.float32
    np = _arrays._numpy()
    return isinstance(value, np.ndarray) and value.dtype == np.float32


def encode_extra(name, value):
    """The JSON record of a tensor stored bit for bit."""
    if _arrays.is_torch_tensor(value):
        import torch

        t = value.detach().cpu().contiguous()
        shape = list(t.shape)
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        record = {"kind": "torch", "dtype": str(t.dtype).replace("torch.", ""), "shape": shape}
    else:
        np = _arrays._numpy()
        a = np.asarray(value).copy(order="C")
        if a.dtype.hasobject:
            raise TypeError(f"state dict entry '{name}' holds Python objects; only arrays are stored")
        raw = a.tobytes()
        record = {"kind": "numpy", "dtype": a.dtype.str, "shape": list(a.shape)}
    if len(raw) > _MAX_EXTRA_BYTES:
        raise _arrays._error(
            f"state dict entry '{name}' is not float32 and holds {len(raw)} bytes (at most {_MAX_EXTRA_BYTES} "
            "are stored as they are): convert it to float32"
        )
    record["data"] = base64.b64encode(raw).decode("ascii")
    return record


def decode_extra(name, record, as_numpy):
    np = _arrays._numpy()
    try:
        raw = base64.b64decode(record["data"], validate=True)
        shape = [int(d) for d in record["shape"]]
        if record["kind"] == "torch" and not as_numpy:
            import torch

            dtype = getattr(torch, record["dtype"])
            if not isinstance(dtype, torch.dtype):
                raise ValueError(record["dtype"])
            if not raw:
                return torch.empty(shape, dtype=dtype)
            return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)
        if record["kind"] == "torch":
            raise _arrays._error(f"entry '{name}' is a torch tensor of {record['dtype']}; decompress it with torch")
        return np.frombuffer(raw, dtype=np.dtype(record["dtype"])).reshape(shape).copy()
    except _arrays.Error:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise _arrays._error(f"metadata record of entry '{name}' is damaged ({e})", "corruption_detected") from None


def metadata(names, extras, more=()):
    """The container's metadata: creator, order, the extras, then `more`."""
    meta = [("creator", "deepsz-python"), (ORDER_KEY, json.dumps(list(names)))]
    if extras:
        meta.append((EXTRAS_KEY, json.dumps(extras, separators=(",", ":"))))
    meta.extend(more)
    return meta


def decompress(path, *, threads=None, as_numpy=False, device=None):
    """The state dict of a .dsz file: name -> torch.Tensor (float32 tensors
    decoded, the others bit for bit), in the original order, ready for
    model.load_state_dict. as_numpy=True gives NumPy arrays instead (no
    torch needed); `device` moves the tensors there."""
    threads = _arrays.resolve_threads(threads)
    meta, entries = _arrays._deepsz.read_file(str(path))
    meta = dict(meta)
    try:
        extras = json.loads(meta.get(EXTRAS_KEY, "{}"))
        order = json.loads(meta[ORDER_KEY]) if ORDER_KEY in meta else [e.name for e in entries]
        if not isinstance(extras, dict) or not isinstance(order, list):
            raise ValueError("not an object and a list")
    except ValueError as e:
        raise _arrays._error(f"{path}: python metadata is damaged ({e})", "corruption_detected") from None
    values = {}
    for e in entries:
        values[e.name] = _arrays.entry_array(e, threads)
    for name, record in extras.items():
        values[name] = decode_extra(name, record, as_numpy)
    if set(order) != set(values) or len(order) != len(values):
        raise _arrays._error(f"{path}: the recorded order does not name the stored tensors", "corruption_detected")
    out = collections.OrderedDict()
    if not as_numpy:
        import torch
    for name in order:
        v = values[name]
        if not as_numpy and not _arrays.is_torch_tensor(v):
            v = torch.from_numpy(v)
        if device is not None and not as_numpy:
            v = v.to(device)
        out[name] = v
    return out
