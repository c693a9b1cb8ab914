"""The sequential CNN of Rajaraman et al. 2018 (five conv + three FC layers, 227×227×3).

Layer choices the paper leaves open, and why they were made this way:

- Padding: none anywhere. The model was built in MATLAB R2017a, whose convolution and pooling layers
  default to no padding, and the paper names no padding.
- LRN: window 5, alpha 1e-4, beta 0.75, k 2, the AlexNet values the paper cites and MATLAB's
  `crossChannelNormalizationLayer(5)` defaults. MATLAB, Caffe, PyTorch and ONNX all divide alpha by
  the window size, so `nn.LocalResponseNorm` is the same layer.
- Pool after conv5: yes. The paper lists pools after conv1 and conv2, says none lie *between*
  conv3, conv4 and conv5, and is silent about what follows conv5; it calls the model compact with
  fewer parameters than the pre-trained AlexNet/VGG it is compared to. Without a pool, FC1 would read
  256·20·20 values (419 M weights); with AlexNet's 3×3/2 pool5 it reads 256·9·9 (85 M), so the
  AlexNet layout the paper follows everywhere else is kept. The pool sits in the head, after the
  last conv map (`features`, 256×20×20), so CAM-style maps keep the finer grid.
- ReLU after every conv, before LRN (AlexNet order; the paper's activation maps are post-ReLU).
"""

from __future__ import annotations

from torch import nn

from cxrviewer.nets.base import Classifier

INPUT_SIZE = (227, 227)
FC_WIDTH = 4096


def _lrn() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


def build_seqcnn(*, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.5) -> Classifier:
    """Sequential CNN: features (N, 256, 20, 20) at 227×227; head is an MLP of standard layers only
    (MaxPool2d, Flatten, Linear, ReLU, Dropout) so it can be evaluated, with its gradient, from its
    weights outside torch.
    """
    features = nn.Sequential(
        nn.Conv2d(in_channels, 96, 7, stride=2),
        nn.ReLU(),
        _lrn(),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 128, 3),
        nn.ReLU(),
        _lrn(),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(128, 256, 3),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3),
        nn.ReLU(),
    )
    head = nn.Sequential(
        nn.MaxPool2d(3, stride=2),
        nn.Flatten(),
        nn.Linear(256 * 9 * 9, FC_WIDTH),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(FC_WIDTH, FC_WIDTH),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(FC_WIDTH, num_classes),
    )
    return Classifier(
        arch="seqcnn",
        features=features,
        head=head,
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=INPUT_SIZE,
    )
