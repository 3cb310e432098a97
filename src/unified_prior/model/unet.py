"""A compact ADM/EDM-style U-Net (NVlabs/edm ``DhariwalUNet``), scaled by config only.

The tiny CPU config (32 px, 16 channels, mult [1, 2], one block per level, no attention) and
the production one (128 px, 128-256 channels, mult [1, 2, 2, 2], two blocks, attention at 16)
are this same code. Conditioning follows the anchors: the noise level goes through fixed
Fourier features and an MLP, the label through a bias-free linear map (EDM ``map_label``,
k-diffusion ``mapping_cond``) added before the last SiLU, and the embedding modulates every
block by adaptive group norm (``silu(shift + norm(x) * (scale + 1))``). The last conv of every
block and the output conv are zero-initialised, so the network starts as ``F = 0``.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn


def _groups(channels: int) -> int:
    """EDM's group count (32, at least 4 channels a group), reduced until it divides."""
    g = max(1, min(32, channels // 4))
    while channels % g:
        g -= 1
    return g


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(_groups(channels), channels, eps=1e-6)


def _zero(module: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class FourierEmbedding(nn.Module):
    """Fixed random Fourier features of a scalar (EDM2 ``MPFourier``), seeded so every
    model built from the same config has the same features."""

    freqs: torch.Tensor
    phases: torch.Tensor

    def __init__(self, num_channels: int, bandwidth: float = 1.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer(
            "freqs", 2 * math.pi * torch.randn(num_channels, generator=g) * bandwidth
        )
        self.register_buffer("phases", 2 * math.pi * torch.rand(num_channels, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float().unsqueeze(1) * self.freqs.unsqueeze(0) + self.phases.unsqueeze(0)
        return torch.cos(y) * math.sqrt(2)


class UNetBlock(nn.Module):
    """Residual block with adaptive group norm, optional resampling and self-attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        emb_channels: int,
        *,
        up: bool = False,
        down: bool = False,
        attention: bool = False,
        dropout: float = 0.0,
        channels_per_head: int = 64,
    ) -> None:
        super().__init__()
        self.up, self.down = up, down
        self.norm0 = _norm(in_channels)
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.affine = nn.Linear(emb_channels, out_channels * 2)
        self.norm1 = _norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = _zero(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.num_heads = max(1, out_channels // channels_per_head) if attention else 0
        if attention:
            self.norm2 = _norm(out_channels)
            self.qkv = nn.Conv2d(out_channels, out_channels * 3, 1)
            self.proj = _zero(nn.Conv2d(out_channels, out_channels, 1))

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self.down:
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        orig = self._resample(x)
        h = self.conv0(self._resample(F.silu(self.norm0(x))))
        scale, shift = self.affine(emb).to(h.dtype)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(torch.addcmul(shift, self.norm1(h), scale + 1))
        h = self.conv1(self.dropout(h))
        h = h + (self.skip(orig) if self.skip is not None else orig)
        if self.num_heads:
            b, c, hh, ww = h.shape
            q, k, v = (
                self.qkv(self.norm2(h))
                .reshape(b, 3, self.num_heads, c // self.num_heads, -1)
                .unbind(1)
            )
            attn = F.scaled_dot_product_attention(
                q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
            )
            h = h + self.proj(attn.transpose(-1, -2).reshape(b, c, hh, ww))
        return h


class UNet(nn.Module):
    """Raw network ``F(x_in, c_noise, labels)``; ``EDMPrecond`` wraps it."""

    def __init__(
        self,
        *,
        resolution: int,
        in_channels: int,
        out_channels: int,
        label_dim: int,
        channels: int,
        channel_mult: list[int],
        blocks_per_level: int,
        attention_resolutions: list[int],
        dropout: float,
    ) -> None:
        super().__init__()
        emb = channels * 4
        self.map_noise = FourierEmbedding(channels)
        self.map_layer0 = nn.Linear(channels, emb)
        self.map_layer1 = nn.Linear(emb, emb)
        self.map_label = nn.Linear(label_dim, emb, bias=False) if label_dim else None
        attn = set(attention_resolutions)
        block = partial(UNetBlock, emb_channels=emb, dropout=dropout)

        # Encoder: every output is a skip for the decoder.
        self.conv_in = nn.Conv2d(in_channels, channels * channel_mult[0], 3, padding=1)
        self.enc = nn.ModuleList()
        skips = [channels * channel_mult[0]]
        cout = skips[0]
        for level, mult in enumerate(channel_mult):
            res = resolution >> level
            if level > 0:
                self.enc.append(block(cout, cout, down=True))
                skips.append(cout)
            for _ in range(blocks_per_level):
                cin, cout = cout, channels * mult
                self.enc.append(block(cin, cout, attention=res in attn))
                skips.append(cout)

        # Decoder: a middle pair at the lowest resolution, then up, each block eats a skip.
        self.dec = nn.ModuleList()
        self.dec_takes_skip: list[bool] = []
        for level, mult in reversed(list(enumerate(channel_mult))):
            res = resolution >> level
            if level == len(channel_mult) - 1:
                self.dec.append(block(cout, cout, attention=res in attn))
                self.dec.append(block(cout, cout))
                self.dec_takes_skip += [False, False]
            else:
                self.dec.append(block(cout, cout, up=True))
                self.dec_takes_skip.append(False)
            for _ in range(blocks_per_level + 1):
                cin, cout = cout + skips.pop(), channels * mult
                self.dec.append(block(cin, cout, attention=res in attn))
                self.dec_takes_skip.append(True)
        self.out_norm = _norm(cout)
        self.out_conv = _zero(nn.Conv2d(cout, out_channels, 3, padding=1))

    def forward(
        self, x: torch.Tensor, noise_labels: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        emb = self.map_layer1(F.silu(self.map_layer0(self.map_noise(noise_labels))))
        if self.map_label is not None:
            emb = emb + self.map_label(labels.to(emb.dtype))
        emb = F.silu(emb)

        h = self.conv_in(x)
        skips = [h]
        for blk in self.enc:
            h = blk(h, emb)
            skips.append(h)
        for blk, takes_skip in zip(self.dec, self.dec_takes_skip, strict=True):
            if takes_skip:
                h = torch.cat([h, skips.pop()], dim=1)
            h = blk(h, emb)
        return self.out_conv(F.silu(self.out_norm(h)))
