"""deepsz for Python: error-bounded compression of float32 arrays and of
PyTorch models (docs/PYTHON.md).

    blob = deepsz.encode(array, 1e-3)        # bytes of a one-tensor .dsz
    back = deepsz.decode(blob)               # numpy.ndarray, same shape
    r = deepsz.compress(model, evaluate, max_loss=0.3, out="model.dsz")
    model.load_state_dict(deepsz.decompress("model.dsz"))

Errors of the library are deepsz.Error, a ValueError with a `code`
("truncated", "checksum_wrong", "not_certified", ...)."""

from . import _deepsz
from ._arrays import Error, decode, encode
from ._compress import CompressResult, compress
from ._state import decompress

discordant_drop_upper_bound = _deepsz.discordant_drop_upper_bound
paired_drop_upper_bound = _deepsz.paired_drop_upper_bound

__all__ = [
    "CompressResult", "Error", "compress", "decode", "decompress", "discordant_drop_upper_bound",
    "encode", "paired_drop_upper_bound",
]
__version__ = "0.1.0"
