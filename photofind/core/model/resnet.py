"""ResNet-34 as torchvision defines it, up to the global average pool, without importing
torchvision: that import alone costs about 2.5 s and 170 MB of RSS, for one small class.

Layer names match torchvision's, so its checkpoints load unchanged, and modules are built
and initialised in torchvision's order, so a seeded random init gives the same weights.
torch is imported when a network is built, never when this module is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

LAYERS = (3, 4, 6, 3)  # BasicBlocks per stage for ResNet-34
DIM = 512


def build_resnet34(num_classes: int = 1000) -> Any:
    """A fresh ResNet-34 (torchvision layout and init), in train mode like torchvision's."""
    return _classes()[1](num_classes)


def fold_batchnorm(net: Any) -> Any:
    """Fold every eval-mode BatchNorm into the convolution before it, in place: the same
    function with one less memory pass per layer. Returns `net`, in eval mode."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net.eval()
    pairs = [(net, "conv1", "bn1")]
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in stage:
            pairs += [(block, "conv1", "bn1"), (block, "conv2", "bn2")]
            if block.downsample is not None:
                pairs.append((block.downsample, "0", "1"))
    with torch.no_grad():
        for owner, conv_name, bn_name in pairs:
            conv, bn = owner._modules[conv_name], owner._modules[bn_name]
            owner._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
            owner._modules[bn_name] = torch.nn.Identity()
    return net


@lru_cache(maxsize=1)
def _classes():
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample  # registered last, as in torchvision

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet34(nn.Module):
        def __init__(self, num_classes: int = 1000) -> None:
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, LAYERS[0])
            self.layer2 = self._make_layer(128, LAYERS[1], stride=2)
            self.layer3 = self._make_layer(256, LAYERS[2], stride=2)
            self.layer4 = self._make_layer(512, LAYERS[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            # Built even though the embedding stops before it: its default init draws from
            # the RNG, and seeded random weights must match torchvision's draw for draw.
            self.fc = nn.Linear(DIM, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes: int, blocks: int, stride: int = 1):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )
            layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes
            layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return BasicBlock, ResNet34
