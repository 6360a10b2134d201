"""Train the digits ResNet whose kernels the NeRN tab represents; writes assets/digits_resnet.pt (+ .json).

    python scripts/train_cnn.py [--epochs 30] [--seed 0]

About 10 s on 2 CPU cores. The same as `python -m spectral_lab nern train-cnn`.
"""
import sys

from spectral_lab.cli import main

if __name__ == "__main__":
    sys.exit(main(["nern", "train-cnn", *sys.argv[1:]]))
