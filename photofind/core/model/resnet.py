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


def resnet34_skeleton() -> Any:
    """A ResNet-34 on the meta device: its layout and shapes without any storage, for
    `load_state_dict(state, assign=True)` to fill with a checkpoint's own tensors. Drawing
    random weights only to overwrite them cost 0.5-3 s of every start-up with real weights.
    The explicit init is skipped too: torch runs normal_ on meta tensors through its
    Python reference, whose import of torch._dynamo alone takes seconds."""
    import torch

    with torch.device("meta"):
        return _classes()[1](init=False)


def fold_batchnorm(net: Any, *, channels_last: bool = False, dtype: Any = None) -> Any:
    """Fold every eval-mode BatchNorm into the convolution before it, in place: the same
    function with one less memory pass per layer. Returns `net`, in eval mode.

    Each folded weight is written once, straight into its final layout (`channels_last`:
    what oneDNN runs fastest on a CPU) and `dtype` (default fp32), with torch's own fusion
    arithmetic (torch.nn.utils.fusion.fuse_conv_bn_weights), so the numbers are the same
    bit for bit without its copy of every convolution and more passes to change the layout
    and the precision: each pass over 85 MB of weights costs a start-up 0.1-0.5 s."""
    import torch

    layout = torch.channels_last if channels_last else torch.contiguous_format
    dtype = dtype or torch.float32
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
            _fold_into(torch, conv, bn, layout, dtype)
            owner._modules[bn_name] = torch.nn.Identity()
    return net


def _fold_into(torch, conv: Any, bn: Any, layout: Any, dtype: Any) -> None:
    """conv's weight and bias replaced by conv-then-bn's, in `layout` and `dtype` (computed
    in fp32, then rounded once)."""
    rsqrt = torch.rsqrt(bn.running_var + bn.eps)
    weight = torch.empty_like(conv.weight, memory_format=layout, dtype=dtype)
    torch.mul(conv.weight, (bn.weight * rsqrt).reshape(-1, 1, 1, 1), out=weight)
    bias = torch.zeros_like(bn.running_mean) if conv.bias is None else conv.bias
    folded_bias = (bias - bn.running_mean) * rsqrt * bn.weight + bn.bias
    conv.weight = torch.nn.Parameter(weight, requires_grad=False)
    conv.bias = torch.nn.Parameter(folded_bias.to(dtype), requires_grad=False)


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
        def __init__(self, num_classes: int = 1000, *, init: bool = True) -> None:
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
            for m in self.modules() if init else ():
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
