"""MobileNetV2 (Sandler et al., CVPR 2018) in plain torch: the DASS reference network, random weights.

The standard ImageNet configuration, width multiplier 1.0: a 3x3 stride-2 stem of 32 channels,
17 inverted-residual blocks (expansion t, channels c, repeats n, stride s of Table 2:
(1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1)), a 1x1 conv
to 1280 and a 1000-way classifier. BatchNorm is folded away (eval mode with unit statistics is the
identity), ReLU6 after every conv but the projections. Weights are Kaiming-normal from an explicit
seed: **random, labelled as such** (cycles depend on shapes; masks come from these magnitudes).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MobileNetV2", "BLOCKS", "build"]

#: (expansion t, output channels c, repeats n, first stride s), MobileNetV2 Table 2.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        parts = [] if t == 1 else [_conv(cin, hidden, 1, 1)]
        parts += [_conv(hidden, hidden, 3, stride, groups=hidden), _conv(hidden, cout, 1, 1, act=False)]
        self.body = nn.Sequential(*parts)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 1.0 (no BatchNorm); ``forward`` takes ``[batch, 3, H, W]`` images."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        feats: list[nn.Module] = [_conv(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in BLOCKS:
            for i in range(n):
                feats.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(_conv(cin, 1280, 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.mean(dim=(2, 3)))


def build(seed: int = 0) -> MobileNetV2:
    """A MobileNetV2 with Kaiming-normal conv weights and normal(0, 0.01) classifier weights from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    model = MobileNetV2().eval()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                fan_out = mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_out) ** 0.5)
            elif isinstance(mod, nn.Linear):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * 0.01)
                mod.bias.zero_()
    return model
