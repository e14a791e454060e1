"""deepsz.encode / deepsz.decode: every finite value within the bound, NaN and
infinities bit for bit, shape and dtype kept, damaged blobs refused."""

import os
import subprocess
import threading

import pytest

np = pytest.importorskip("numpy")
import deepsz  # noqa: E402
from deepsz import _deepsz  # noqa: E402

BOUNDS = [0.0, 1e-6, 1e-3, 0.25]


def assert_within(original, decoded, bound):
    original = np.asarray(original).astype(np.float32, order="C")
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == np.float32
    assert decoded.shape == original.shape
    o = original.reshape(-1)
    d = decoded.reshape(-1)
    finite = np.isfinite(o)
    err = np.abs(d[finite].astype(np.float64) - o[finite].astype(np.float64))
    assert np.all(err <= bound), f"max error {err.max()} above {bound}"
    # Non-finite values come back bit for bit (NaN payloads included).
    assert np.array_equal(o.view(np.uint32)[~finite], d.view(np.uint32)[~finite])
    if bound == 0.0:
        assert np.array_equal(o.view(np.uint32), d.view(np.uint32))


def roundtrip(a, bound, **kw):
    blob = deepsz.encode(a, bound, **kw)
    assert isinstance(blob, bytes)
    d = deepsz.decode(blob)
    assert_within(a, d, bound)
    return blob, d


def rng(seed=1):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("bound", BOUNDS)
@pytest.mark.parametrize("shape", [(1000,), (7, 13), (2, 3, 4, 5), (), (0,), (3, 0, 2), (2,) * 8, (300001,)])
def test_random_shapes(shape, bound):
    a = rng().standard_normal(shape).astype(np.float32)
    roundtrip(a, bound)


@pytest.mark.parametrize("bound", BOUNDS)
def test_adversarial_values(bound):
    f = np.finfo(np.float32)
    special = np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, f.max, -f.max, f.tiny, -f.tiny, 1e-45, -1e-45, 1e-40, 3e38, -3e38,
         1.0, -1.0, 16777217.0],
        dtype=np.float32,
    )
    payload_nan = np.array([0x7FC12345, 0xFFA00001], dtype=np.uint32).view(np.float32)
    r = rng(2)
    mixed = np.concatenate([special, payload_nan, r.standard_normal(5000).astype(np.float32) * 1e30,
                            r.standard_normal(5000).astype(np.float32) * 1e-38, special[::-1]])
    r.shuffle(mixed)
    roundtrip(mixed, bound)
    roundtrip(mixed.reshape(-1, 1), bound)


@pytest.mark.parametrize("bound", BOUNDS)
@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -7e37, np.nan, np.inf, 1e-44])
def test_constant_arrays(value, bound):
    roundtrip(np.full((64, 33), value, dtype=np.float32), bound)


def test_smooth_data_compresses():
    a = np.cumsum(rng(3).standard_normal(1 << 18)).astype(np.float32)
    blob, _ = roundtrip(a, 1e-2)
    assert len(blob) < a.nbytes / 4


def test_non_contiguous_inputs():
    base = rng(4).standard_normal((40, 60)).astype(np.float32)
    for view in (base[::2, ::3], base.T, base[::-1], np.asfortranarray(base), base[:, 5]):
        assert not view.flags.c_contiguous or view.base is not None
        roundtrip(view, 1e-3)


def test_other_byte_order_is_float32_too():
    a = rng(5).standard_normal(100).astype(">f4")
    blob = deepsz.encode(a, 1e-4)
    assert_within(a.astype(np.float32), deepsz.decode(blob), 1e-4)


def test_sparse_keeps_zeros_exact():
    a = rng(6).standard_normal((50, 40)).astype(np.float32)
    a[np.abs(a) < 1.0] = 0.0
    blob, d = roundtrip(a, 0.1, sparse=True)
    assert np.array_equal(d == 0, a == 0)


@pytest.mark.parametrize("codec", ["zfp", "lossless"])
def test_other_codecs(codec):
    a = rng(7).standard_normal((100, 10)).astype(np.float32)
    roundtrip(a, 0.0 if codec == "lossless" else 1e-3, codec=codec)


def test_threads_do_not_change_the_bytes():
    a = rng(8).standard_normal(1 << 20).astype(np.float32)
    blobs = {deepsz.encode(a, 1e-3, threads=t) for t in (1, 2, 3)}
    assert len(blobs) == 1
    for t in (1, 2, 5):
        assert_within(a, deepsz.decode(next(iter(blobs)), threads=t), 1e-3)


def test_wrong_types_raise_type_error():
    for bad in (np.zeros(4, np.float64), np.zeros(4, np.int32), np.zeros(4, np.float16), [1.0, 2.0], "x", 3.0):
        with pytest.raises(TypeError):
            deepsz.encode(bad, 0.1)
    with pytest.raises(TypeError):
        deepsz.encode(np.zeros(4, np.float32), "0.1")
    with pytest.raises(TypeError):
        deepsz.decode("not bytes")
    with pytest.raises(TypeError):
        deepsz.decode(12)


@pytest.mark.parametrize("bound", [-1e-3, -0.0 - 1e-300, float("nan"), float("inf"), -float("inf")])
def test_bad_bounds_raise_value_error(bound):
    with pytest.raises(ValueError, match="abs_error"):
        deepsz.encode(np.zeros(4, np.float32), bound)


def test_error_is_a_value_error_with_a_code():
    assert issubclass(deepsz.Error, ValueError)
    with pytest.raises(deepsz.Error) as e:
        deepsz.decode(b"")
    assert e.value.code in ("truncated", "foreign_format")


def test_every_truncation_and_every_flipped_byte_is_refused():
    a = rng(9).standard_normal((20, 30)).astype(np.float32)
    blob = deepsz.encode(a, 1e-3)
    for n in range(len(blob)):
        with pytest.raises(deepsz.Error):
            deepsz.decode(blob[:n])
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x5A
        with pytest.raises(deepsz.Error):
            deepsz.decode(bytes(damaged))
    with pytest.raises(deepsz.Error):
        deepsz.decode(blob + b"\0")
    with pytest.raises(deepsz.Error, match="container"):
        deepsz.decode(os.urandom(200))


def test_blob_buffers_are_accepted():
    a = rng(10).standard_normal(500).astype(np.float32)
    blob = deepsz.encode(a, 1e-3)
    for view in (bytearray(blob), memoryview(blob), np.frombuffer(blob, dtype=np.uint8)):
        assert_within(a, deepsz.decode(view), 1e-3)


def test_two_tensor_blob_is_refused():
    x = np.zeros(3, np.float32)
    two = _deepsz.serialize([_deepsz.encode_entry("a", x, 0.0), _deepsz.encode_entry("b", x, 0.0)])
    with pytest.raises(deepsz.Error, match="2 tensors"):
        deepsz.decode(two)


def test_memory_limit_is_checked_before_allocating():
    blob = deepsz.encode(np.zeros(1000, np.float32), 0.0, sparse=True)
    with pytest.raises(deepsz.Error) as e:
        deepsz.decode(blob, max_bytes=100)
    assert e.value.code == "too_large"
    assert deepsz.decode(blob, max_bytes=0).shape == (1000,)


def test_decode_into_out():
    a = rng(11).standard_normal((8, 9)).astype(np.float32)
    blob = deepsz.encode(a, 1e-3)
    out = np.full((8, 9), 5.0, np.float32)
    assert deepsz.decode(blob, out=out) is out
    assert_within(a, out, 1e-3)
    with pytest.raises(deepsz.Error, match="shape"):
        deepsz.decode(blob, out=np.empty((9, 8), np.float32))
    with pytest.raises(TypeError):
        deepsz.decode(blob, out=np.empty((8, 9), np.float64))
    frozen = np.empty((8, 9), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(deepsz.Error):
        deepsz.decode(blob, out=frozen)
    with pytest.raises(deepsz.Error):
        deepsz.decode(blob, out=np.empty((8, 18), np.float32)[:, ::2])


def test_gil_is_released_while_coding():
    a = rng(12).standard_normal(1 << 23).astype(np.float32)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("blob", deepsz.encode(a, 1e-4, threads=1)))
    spins = 0
    t.start()
    while t.is_alive():
        spins += 1
    t.join()
    # Holding the GIL, the encoder would leave this loop a few turns at most.
    assert spins > 10000
    assert_within(a, deepsz.decode(result["blob"]), 1e-4)


def test_dsz_tool_reads_blobs_and_decode_reads_its_files(tmp_path, dsz_tool):
    a = np.cumsum(rng(13).standard_normal(10000)).astype(np.float32)
    blob_path = tmp_path / "blob.dsz"
    blob_path.write_bytes(deepsz.encode(a, 1e-2))
    info = subprocess.run([dsz_tool, "inspect", str(blob_path)], capture_output=True, text=True, check=True)
    assert "data" in info.stdout
    raw = tmp_path / "data.f32"
    a.astype("<f4").tofile(raw)
    subprocess.run([dsz_tool, "compress", "--abs", "0.01", str(raw), str(tmp_path / "cli.dsz")], check=True,
                   capture_output=True)
    assert_within(a, deepsz.decode((tmp_path / "cli.dsz").read_bytes()), 1e-2)
    subprocess.run([dsz_tool, "decompress", str(blob_path), str(tmp_path / "back.f32")], check=True,
                   capture_output=True)
    assert_within(a, np.fromfile(tmp_path / "back.f32", dtype="<f4"), 1e-2)



@pytest.fixture
def torch_module():
    return pytest.importorskip("torch")


def test_torch_tensors_in_and_out(torch_module):
    torch = torch_module
    t = torch.randn(6, 7, 8)
    blob = deepsz.encode(t, 1e-3)
    d = deepsz.decode(blob, as_tensor=True)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float32 and tuple(d.shape) == (6, 7, 8)
    assert torch.all((d.double() - t.double()).abs() <= 1e-3)
    p = torch.nn.Parameter(torch.randn(5, 5))
    assert_within(p.detach().numpy(), deepsz.decode(deepsz.encode(p, 1e-4)), 1e-4)
    nc = torch.randn(10, 12).t()
    assert not nc.is_contiguous()
    assert_within(nc.contiguous().numpy(), deepsz.decode(deepsz.encode(nc, 1e-3)), 1e-3)
    assert_within(np.float32(2.5) * np.ones(()), deepsz.decode(deepsz.encode(torch.tensor(2.5), 0.0)), 0.0)
    out = torch.zeros(6, 7, 8)
    deepsz.decode(blob, out=out)
    assert torch.equal(out, d)
    for dtype in (torch.float64, torch.float16, torch.int64, torch.bfloat16):
        with pytest.raises(TypeError):
            deepsz.encode(torch.zeros(3, dtype=dtype), 0.1)
