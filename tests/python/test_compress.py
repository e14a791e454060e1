"""deepsz.compress / deepsz.decompress with a toy evaluate: a linear
classifier on synthetic data, any architecture being only an evaluate."""

import os

import pytest

np = pytest.importorskip("numpy")
import deepsz  # noqa: E402


def make_problem(seed=0, classes=10, features=400, sizes=None):
    """Weights of a fitted linear classifier and its splits of data."""
    r = np.random.default_rng(seed)
    sizes = sizes or {"selection": 3000, "certification": 6000}
    w_true = r.standard_normal((classes, features)).astype(np.float32)
    data = {}
    for split, n in sizes.items():
        x = r.standard_normal((n, features)).astype(np.float32)
        y = np.argmax(x @ w_true.T + 0.8 * r.standard_normal((n, classes)), axis=1)
        data[split] = (x, y)
    w = (w_true + 0.05 * r.standard_normal(w_true.shape)).astype(np.float32)
    return {"fc.weight": w, "fc.bias": np.zeros(classes, np.float32), "steps": np.array(7, np.int64)}, data


def make_evaluate(data, log=None):
    def evaluate(sd, split):
        if log is not None:
            log.append(split)
        x, y = data[split]
        w, b = np.asarray(sd["fc.weight"]), np.asarray(sd["fc.bias"])
        return np.argmax(x @ w.T + b, axis=1) == y
    return evaluate


def accuracy(evaluate, sd, split):
    return 100.0 * float(np.mean(evaluate(sd, split)))


def test_compress_certifies_writes_and_decompress_reloads(tmp_path):
    sd, data = make_problem()
    log = []
    evaluate = make_evaluate(data, log)
    out = tmp_path / "toy.dsz"
    r = deepsz.compress(sd, evaluate, max_loss=0.5, out=out, progress=False, threads=2)
    assert r.path == str(out) and out.exists() and r.file_bytes == os.path.getsize(out)
    assert r.ratio > 1.5
    assert r.certification_upper_bound <= 0.5
    # Every decision before the first look at the certification split.
    first_cert = log.index("certification")
    assert "selection" not in log[first_cert:]
    back = deepsz.decompress(out, as_numpy=True)
    assert list(back) == list(sd)
    assert back["steps"].dtype == np.int64 and back["steps"].shape == () and int(back["steps"]) == 7
    for name in ("fc.weight", "fc.bias"):
        assert back[name].shape == sd[name].shape and back[name].dtype == np.float32
        err = np.abs(back[name].astype(np.float64) - sd[name].astype(np.float64))
        assert np.all(err <= r.bounds[name]), name
    assert any(b > 0 for b in r.bounds.values())
    # The accuracy of the file is the one reported.
    drop = accuracy(evaluate, sd, "certification") - accuracy(evaluate, back, "certification")
    assert drop == pytest.approx(r.certification_drop, abs=1e-9)


def test_torch_module_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    sd_np, data = make_problem(seed=3)
    model = torch.nn.Sequential()
    model.add_module("fc", torch.nn.Linear(400, 10))
    model.register_buffer("steps", torch.tensor(7))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd_np.items()})

    def evaluate(sd, split):
        assert all(isinstance(v, torch.Tensor) for v in sd.values())
        x, y = data[split]
        m = torch.nn.Sequential()
        m.add_module("fc", torch.nn.Linear(400, 10))
        m.register_buffer("steps", torch.tensor(0))
        m.load_state_dict(sd)
        with torch.no_grad():
            return (m(torch.from_numpy(x)).argmax(1).numpy() == y)

    r = deepsz.compress(model, evaluate, max_loss=0.5, out=tmp_path / "m.dsz", progress=False)
    sd = deepsz.decompress(tmp_path / "m.dsz")
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    model.load_state_dict(sd)
    assert sd["steps"].dtype == torch.int64 and int(sd["steps"]) == 7
    drop = accuracy(evaluate, {k: torch.from_numpy(np.array(v)) for k, v in sd_np.items()}, "certification") - \
        accuracy(evaluate, model.state_dict(), "certification")
    assert drop == pytest.approx(r.certification_drop, abs=1e-9)


def test_prune_zeroes_weights_within_the_budget(tmp_path):
    sd, data = make_problem(seed=4)
    evaluate = make_evaluate(data)
    r = deepsz.compress(sd, evaluate, max_loss=1.0, out=tmp_path / "p.dsz", prune=True, progress=False)
    assert r.pruned_density < 1.0
    assert r.certification_upper_bound <= 1.0
    back = deepsz.decompress(tmp_path / "p.dsz", as_numpy=True)
    assert np.count_nonzero(back["fc.weight"]) < sd["fc.weight"].size


def test_noisy_evaluate_is_not_certified_and_writes_nothing(tmp_path):
    sd, data = make_problem(seed=5)
    r = np.random.default_rng(0)
    out = tmp_path / "never.dsz"

    def coin(sd, split):
        return r.random(len(data[split][1])) < 0.5

    with pytest.raises(deepsz.Error) as e:
        deepsz.compress(sd, coin, max_loss=0.3, out=out, progress=False)
    assert e.value.code == "not_certified"
    assert not out.exists() and os.listdir(tmp_path) == []


def test_bad_arguments(tmp_path):
    sd, data = make_problem(seed=6)
    evaluate = make_evaluate(data)
    with pytest.raises(ValueError):
        deepsz.compress(sd, evaluate, max_loss=-1, out=tmp_path / "x.dsz")
    with pytest.raises(ValueError):
        deepsz.compress(sd, evaluate, confidence=1.5, out=tmp_path / "x.dsz")
    with pytest.raises(TypeError):
        deepsz.compress(sd, "not callable", out=tmp_path / "x.dsz")
    with pytest.raises(deepsz.Error, match="directory"):
        deepsz.compress(sd, evaluate, out=tmp_path)
    sizes = iter([10, 10, 11])

    def shifting(sd_, split):
        return np.ones(next(sizes, 12), bool)

    with pytest.raises(deepsz.Error, match="flags"):
        deepsz.compress(sd, shifting, out=tmp_path / "x.dsz", progress=False)
    with pytest.raises(TypeError, match="correctness"):
        deepsz.compress(sd, lambda s, split: np.full(10, 0.5), out=tmp_path / "x.dsz", progress=False)
    assert not (tmp_path / "x.dsz").exists()


def test_damaged_file_is_refused(tmp_path):
    sd, data = make_problem(seed=7)
    out = tmp_path / "d.dsz"
    deepsz.compress(sd, make_evaluate(data), max_loss=0.5, out=out, progress=False)
    b = bytearray(out.read_bytes())
    b[len(b) // 2] ^= 1
    out.write_bytes(bytes(b))
    with pytest.raises(deepsz.Error):
        deepsz.decompress(out, as_numpy=True)


def test_progress_callback(tmp_path):
    sd, data = make_problem(seed=8)
    seen = []
    deepsz.compress(sd, make_evaluate(data), max_loss=0.5, out=tmp_path / "c.dsz",
                    progress=lambda done, total, msg: seen.append(msg))
    phases = {m.split(":")[0] for m in seen}
    assert {"assessing", "optimising", "certifying"} <= phases
