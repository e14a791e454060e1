#!/usr/bin/python3
"""Writes a small TorchScript model the way a PyTorch user would.

usage: make_torchscript.py OUT.pt script|trace [--classes N]
A LeNet-300-100-shaped MLP (parameters fc1/fc2/fc3, PyTorch names) whose
forward flattens N x 1 x 28 x 28 images itself. Weights are seeded.
"""
import sys

import torch
import torch.nn as nn


class Mlp(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def main():
    out, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(7)
    model = Mlp(10).eval()
    if mode == "script":
        m = torch.jit.script(model)
    else:
        m = torch.jit.trace(model, torch.zeros(2, 1, 28, 28))
    m.save(out)


if __name__ == "__main__":
    main()
