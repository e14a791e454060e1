#!/usr/bin/python3
"""Models for the interchange tests, written with numpy and python3-onnx only.

make_models.py safetensors OUT [--dtype f32|f16|bf16|mixed] [--seed N]
make_models.py onnx OUT --net lenet300|lenet5 [--dtype f32|f16] [--float-data] [--seed N]
make_models.py export-onnx MODEL.pt OUT [--op OP] [--softmax 1]
    a deepsz-native LeNet-300-100, LeNet-5, or AlexNet/VGG-16 at 224x224
    (read with python3-torch) as an ONNX graph of Flatten/Conv/MaxPool/Gemm/
    Relu/Dropout computing the same function,
    its metadata and masked tensors in metadata_props (as deepsz writes them);
    --op replaces the first Relu by OP (an unsupported op for the tests),
    --softmax 1 ends the graph with a Softmax.
make_models.py export-torchscript MODEL.pt OUT.pt
    the same LeNet as a scripted TorchScript module, metadata and masks in
    its extra files.
make_models.py check-onnx FILE           onnx.checker on FILE (exit 1 on failure)
make_models.py compare-onnx ORIG DECODED DIR BOUND
    the graphs equal but for the float initializers' data; every float
    initializer of DECODED equal (bit for bit, in its dtype) to the .dsz
    decode in DIR/NAME.f32 (dsz decompress to a directory) rounded to it,
    and within BOUND of ORIG; every other initializer bit-exact.
make_models.py compare-safetensors ORIG DECODED DIR BOUND   the same for safetensors.

Weights are Gaussian(0, 0.05) with about 90% of each weight matrix pruned to
zero, the shapes of LeNet-300-100 and LeNet-5.
"""
import json
import struct
import sys

import numpy as np

LENET300 = [("fc1.weight", (300, 784)), ("fc1.bias", (300,)), ("fc2.weight", (100, 300)),
            ("fc2.bias", (100,)), ("fc3.weight", (10, 100)), ("fc3.bias", (10,))]
LENET5 = [("conv1.weight", (6, 1, 5, 5)), ("conv1.bias", (6,)), ("conv2.weight", (16, 6, 5, 5)),
          ("conv2.bias", (16,)), ("fc1.weight", (120, 256)), ("fc1.bias", (120,)),
          ("fc2.weight", (84, 120)), ("fc2.bias", (84,)), ("fc3.weight", (10, 84)), ("fc3.bias", (10,))]


def weights(shapes, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes:
        w = rng.normal(0.0, 0.05, size=shape).astype(np.float32)
        if name.endswith("weight"):
            w[rng.random(shape) < 0.9] = 0.0
        out[name] = w
    return out


def bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even (as the C++ side)."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_values(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
             "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_, "U16": np.uint16, "I16": np.int16}


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype string, numpy array of that dtype's bytes)."""
    header, blobs, at = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, arr in tensors:
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_safetensors(out, dtype, seed):
    w = weights(LENET300, seed)
    tensors = []
    for i, (name, a) in enumerate(w.items()):
        d = dtype if dtype != "mixed" else ["f32", "f16", "bf16"][i % 3]
        if d == "f32":
            tensors.append((name, "F32", a))
        elif d == "f16":
            tensors.append((name, "F16", a.astype(np.float16)))
        else:
            tensors.append((name, "BF16", bf16_bits(a)))
    rng = np.random.default_rng(seed + 1)
    tensors.append(("num_batches_tracked", "I64", np.array(12345678901, dtype=np.int64)))
    tensors.append(("mask", "BOOL", rng.random((7, 3)) < 0.5))
    tensors.append(("ids", "I32", rng.integers(-2**31, 2**31 - 1, size=(5,), dtype=np.int32)))
    tensors.append(("running_var", "F64", rng.normal(size=(3, 2))))
    tensors.append(("bytes", "U8", rng.integers(0, 256, size=(13,), dtype=np.uint8)))
    tensors.append(("empty", "F32", np.zeros((0, 4), dtype=np.float32)))
    tensors.append(("scalar", "F32", np.array(0.5, dtype=np.float32)))
    tensors.append(("odd", "F16", np.array([np.inf, -np.inf, np.nan, 65504, -65504, 6e-8, -0.0, 1e-4], dtype=np.float16)))
    write_safetensors(out, tensors, {"format": "pt", "note": "deepsz test \u00e9"})


def make_onnx(out, net, dtype, float_data, seed):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = weights(LENET300 if net == "lenet300" else LENET5, seed)
    et = TensorProto.FLOAT if dtype == "f32" else TensorProto.FLOAT16
    npt = np.float32 if dtype == "f32" else np.float16
    inits = []
    for name, a in w.items():
        if net == "lenet300" and name.endswith("weight"):
            a = a.T  # Gemm with transB = 0 below for fc1, 1 for others: exercise both
        t = numpy_helper.from_array(a.astype(npt), name)
        if float_data and dtype == "f32":
            t = helper.make_tensor(name, TensorProto.FLOAT, a.shape, a.astype(np.float32).flatten().tolist())
        inits.append(t)
    shape_init = numpy_helper.from_array(np.array([-1, 256], dtype=np.int64), "flat_shape")
    nodes = []
    if net == "lenet300":
        x = helper.make_tensor_value_info("x", et, [1, 784])
        prev = "x"
        for i in (1, 2, 3):
            nodes.append(helper.make_node("Gemm", [prev, f"fc{i}.weight", f"fc{i}.bias"], [f"g{i}"]))
            prev = f"g{i}"
            if i < 3:
                nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
                prev = f"r{i}"
    else:
        x = helper.make_tensor_value_info("x", et, [1, 1, 28, 28])
        nodes += [helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], kernel_shape=[5, 5]),
                  helper.make_node("Relu", ["c1"], ["r1"]),
                  helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], kernel_shape=[5, 5]),
                  helper.make_node("Relu", ["c2"], ["r2"]),
                  helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Reshape", ["p2", "flat_shape"], ["f"])]
        inits.append(shape_init)
        prev = "f"
        for i in (1, 2, 3):
            nodes.append(helper.make_node("Gemm", [prev, f"fc{i}.weight", f"fc{i}.bias"], [f"g{i}"], transB=1))
            prev = f"g{i}"
            if i < 3:
                nodes.append(helper.make_node("Relu", [prev], [f"r{i + 2}"]))
                prev = f"r{i + 2}"
    y = helper.make_tensor_value_info(prev, et, [1, 10])
    graph = helper.make_graph(nodes, net, [x], [y], inits)
    model = helper.make_model(graph, producer_name="deepsz-tests", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"origin": "tests/interchange/make_models.py"})
    onnx.checker.check_model(model)
    onnx.save(model, out)


def export_onnx(model_path, out, op, softmax):
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper
    d = torch.load(model_path)
    meta = dict(d["metadata"])
    arch = meta.get("architecture")
    params = {k: v.numpy().astype(np.float32) for k, v in d["parameters"].items()}
    c, h, w = (int(x) for x in meta["input"].split("x"))
    classes = int(meta["classes"])
    nodes, relu = [], [op or "Relu"]

    def act(src, dst):
        kind = relu[0]
        relu[0] = "Relu"
        nodes.append(helper.make_node(kind, [src], [dst]))

    if arch == "lenet300":
        nodes.append(helper.make_node("Flatten", ["x"], ["f"]))
        prev = "f"
        for i in (1, 2, 3):
            nodes.append(helper.make_node("Gemm", [prev, f"fc{i}.weight", f"fc{i}.bias"], [f"g{i}"], transB=1))
            prev = f"g{i}"
            if i < 3:
                act(prev, f"r{i}")
                prev = f"r{i}"
    elif arch == "lenet5":
        nodes += [helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], kernel_shape=[5, 5]),
                  helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], kernel_shape=[5, 5]),
                  helper.make_node("MaxPool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Flatten", ["p2"], ["f"]),
                  helper.make_node("Gemm", ["f", "fc1.weight", "fc1.bias"], ["g1"], transB=1)]
        act("g1", "r1")
        nodes.append(helper.make_node("Gemm", ["r1", "fc2.weight", "fc2.bias"], ["g2"], transB=1))
        prev = "g2"
    elif arch in ("alexnet", "vgg16") and (h, w) == (224, 224):
        # The ImageNet shapes at 224x224, where the adaptive average pool
        # before the classifier is the identity (6x6 / 7x7 in and out).
        if arch == "alexnet":
            convs = [("conv1", 11, 4, 2, True), ("conv2", 5, 1, 2, True), ("conv3", 3, 1, 1, False),
                     ("conv4", 3, 1, 1, False), ("conv5", 3, 1, 1, True)]
            pool = dict(kernel_shape=[3, 3], strides=[2, 2])
        else:
            convs = []
            for b, n in enumerate((2, 2, 3, 3, 3)):
                convs += [(f"conv{b + 1}_{i + 1}", 3, 1, 1, i == n - 1) for i in range(n)]
            pool = dict(kernel_shape=[2, 2], strides=[2, 2])
        prev = "x"
        for i, (name, k, st, pd, pooled) in enumerate(convs):
            nodes.append(helper.make_node("Conv", [prev, f"{name}.weight", f"{name}.bias"], [f"{name}.out"],
                                          kernel_shape=[k, k], strides=[st, st], pads=[pd] * 4))
            act(f"{name}.out", f"{name}.relu")
            prev = f"{name}.relu"
            if pooled:
                nodes.append(helper.make_node("MaxPool", [prev], [f"{name}.pool"], **pool))
                prev = f"{name}.pool"
        nodes.append(helper.make_node("Flatten", [prev], ["f"]))
        prev = "f"
        for i, fc in enumerate(("fc6", "fc7", "fc8")):
            nodes.append(helper.make_node("Gemm", [prev, f"{fc}.weight", f"{fc}.bias"], [f"{fc}.out"], transB=1))
            prev = f"{fc}.out"
            if i < 2:
                act(prev, f"{fc}.relu")
                nodes.append(helper.make_node("Dropout", [f"{fc}.relu"], [f"{fc}.drop"]))
                prev = f"{fc}.drop"
    else:
        raise SystemExit(f"export-onnx: {model_path} is a {arch} of {h}x{w} input, not lenet300, lenet5, "
                         "or alexnet/vgg16 at 224x224")
    if softmax:
        nodes.append(helper.make_node("Softmax", [prev], ["probabilities"], axis=1))
        prev = "probabilities"
    inits = [numpy_helper.from_array(a, name) for name, a in params.items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])
    y = helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", classes])
    graph = helper.make_graph(nodes, arch, [x], [y], inits)
    model = helper.make_model(graph, producer_name="deepsz-tests", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k in ("architecture", "input", "classes"):
        meta.pop(k, None)
    props = {"deepsz:metadata": json.dumps({k: v for k, v in meta.items() if not k.startswith("xxh64:")})}
    masked = [k for k in params if k in d["masks"]]
    if masked:
        props["deepsz:masks"] = ",".join(masked)
    helper.set_model_props(model, props)
    if not op:
        onnx.checker.check_model(model)
    onnx.save(model, out)


def export_torchscript(model_path, out):
    """The same network as a TorchScript module a PyTorch user would script,
    deepsz's metadata and masks in its extra files (as deepsz writes them)."""
    import torch
    from torch import nn
    d = torch.load(model_path)
    meta = dict(d["metadata"])
    arch = meta.get("architecture")

    class LeNet300(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
            self.fc1, self.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

        def forward(self, x):
            x = torch.max_pool2d(self.conv2(torch.max_pool2d(self.conv1(x), 2)), 2)
            return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

    if arch not in ("lenet300", "lenet5"):
        raise SystemExit(f"export-torchscript: {model_path} is a {arch}, not lenet300 or lenet5")
    net = LeNet300() if arch == "lenet300" else LeNet5()
    net.load_state_dict({k: v.float() for k, v in d["parameters"].items()})
    blob = struct.pack("<I", len(d["masks"]))
    for name, m in d["masks"].items():
        b = name.encode()
        flat = m.to(torch.uint8).flatten().numpy().tobytes()
        blob += struct.pack("<I", len(b)) + b + struct.pack("<Q", len(flat)) + flat
    meta.pop("architecture", None)
    meta = {k: v for k, v in meta.items() if not k.startswith("xxh64:")}
    torch.jit.save(torch.jit.script(net), out,
                   _extra_files={"deepsz/metadata.json": json.dumps(meta), "deepsz/masks.bin": blob})


def load_f32(path):
    return np.fromfile(path, dtype="<f4")


def sanitise(name):
    s = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return "_" + s if not s or s[0] == "." else s


def check_values(name, orig, dec, stored, bound):
    """orig/dec: arrays of one float dtype; stored: the .dsz decode (float32)."""
    fail = []
    kind = orig.dtype
    if kind == np.float32:
        expect = stored
    elif kind == np.float16:
        expect = stored.astype(np.float16)
    else:  # bfloat16 as uint16 bits
        expect = bf16_bits(stored)
    if dec.reshape(-1).view(np.uint8).tobytes() != expect.reshape(-1).view(np.uint8).tobytes():
        fail.append(f"{name}: not the .dsz decode rounded to its dtype")
    o = (bf16_values(orig) if kind == np.uint16 else orig).astype(np.float64).reshape(-1)
    d = (bf16_values(dec) if kind == np.uint16 else dec).astype(np.float64).reshape(-1)
    fin = np.isfinite(o)
    if fin.any():
        err = np.abs(d[fin] - o[fin])
        if not (err <= bound).all():
            fail.append(f"{name}: {int((err > bound).sum())} values beyond the bound {bound} (max {err.max()})")
    ob, db = orig.reshape(-1).view(np.uint8), dec.reshape(-1).view(np.uint8)
    size = orig.dtype.itemsize
    for i in np.nonzero(~fin)[0]:
        if ob[i * size:(i + 1) * size].tobytes() != db[i * size:(i + 1) * size].tobytes():
            fail.append(f"{name}: non-finite value {i} not bit-exact")
    return fail


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        raw = body[e["data_offsets"][0]:e["data_offsets"][1]]
        dt = {"BF16": np.uint16}.get(e["dtype"], ST_DTYPES.get(e["dtype"]))
        out[name] = (e["dtype"], np.frombuffer(raw, dtype=dt).reshape(e["shape"]))
    return header, out


def compare_safetensors(orig, dec, directory, bound):
    ho, to = read_safetensors(orig)
    hd, td = read_safetensors(dec)
    fail = [] if ho == hd else ["headers differ"]
    for name, (dtype, a) in to.items():
        b = td[name][1]
        if dtype in ("F32", "F16", "BF16"):
            fail += check_values(name, a, b, load_f32(f"{directory}/{sanitise(name)}.f32"), bound)
        elif a.tobytes() != b.tobytes():
            fail.append(f"{name}: {dtype} not bit-exact")
    return fail


def compare_onnx(orig, dec, directory, bound):
    import onnx
    from onnx import TensorProto, numpy_helper
    mo, md = onnx.load(orig), onnx.load(dec)
    fail = []
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16}
    for a, b in zip(mo.graph.initializer, md.graph.initializer):
        if a.name != b.name or a.data_type != b.data_type or list(a.dims) != list(b.dims):
            fail.append(f"initializer {a.name} / {b.name} differ in name, type or shape")
            continue
        x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
        if a.data_type in floats:
            fail += check_values(a.name, x, y, load_f32(f"{directory}/{sanitise(a.name)}.f32"), bound)
        elif a.SerializeToString() != b.SerializeToString():
            fail.append(f"{a.name}: not bit-exact")
    if len(mo.graph.initializer) != len(md.graph.initializer):
        fail.append("initializer counts differ")
    for m in (mo, md):
        del m.graph.initializer[:]
    if mo.SerializeToString() != md.SerializeToString():
        fail.append("the graphs differ beyond the initializers")
    return fail


def main(argv):
    cmd = argv[1]
    opts = dict(zip(argv[3::2], argv[4::2])) if cmd in ("safetensors", "onnx") else {}
    seed = int(opts.get("--seed", 1))
    if cmd == "safetensors":
        make_safetensors(argv[2], opts.get("--dtype", "f32"), seed)
    elif cmd == "onnx":
        make_onnx(argv[2], opts.get("--net", "lenet300"), opts.get("--dtype", "f32"),
                  opts.get("--float-data", "0") == "1", seed)
    elif cmd == "export-onnx":
        opts = dict(zip(argv[4::2], argv[5::2]))
        export_onnx(argv[2], argv[3], opts.get("--op"), opts.get("--softmax", "0") == "1")
    elif cmd == "export-torchscript":
        export_torchscript(argv[2], argv[3])
    elif cmd == "check-onnx":
        import onnx
        onnx.checker.check_model(onnx.load(argv[2]))
    elif cmd in ("compare-onnx", "compare-safetensors"):
        f = compare_onnx if cmd == "compare-onnx" else compare_safetensors
        fail = f(argv[2], argv[3], argv[4], float(argv[5]))
        for line in fail:
            print("FAIL " + line)
        return 1 if fail else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
