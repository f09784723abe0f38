// diffusers' UNet2DConditionModel (0.15) in plain PyTorch, for the `torch` fields of bench/cases/decoder.ts:
// the GPU machine has torch but not diffusers. Module names are diffusers', so a diffusers state dict loads
// with strict=True (state-dict order is diffusers' too); bench/check-torch-unet.py runs the text between the markers against the golden outputs
// in ../shared/data/decoder-golden (no backslashes, backticks or dollar-braces in it, so the
// template literal's value is the file's text).

/** Python source: ResnetBlock2D, Transformer2DModel, UNet2DConditionModel, UNet2DConditionModelEmb, build_unet(cfg). */
export const TORCH_UNET = `
# --- torch-unet begin ---
import contextlib, json, math
import torch.nn as nn
import torch.nn.functional as F

if hasattr(F, 'scaled_dot_product_attention'):
    sdpa = F.scaled_dot_product_attention
else:  # PyTorch < 2.0 (the CPU check)
    def sdpa(q, k, v):
        return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v

def on_device(dev):
    """Builds modules directly on dev where PyTorch allows it (2.0+); .to(dev) is still needed after."""
    d = torch.device(dev)
    return d if hasattr(d, '__enter__') else contextlib.nullcontext()

class ResnetBlock2D(nn.Module):
    def __init__(s, cin, cout, temb, groups=32, eps=1e-5, scale=1.0):
        super().__init__()
        s.scale = scale
        s.norm1 = nn.GroupNorm(groups, cin, eps)
        s.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        s.time_emb_proj = nn.Linear(temb, cout)
        s.norm2 = nn.GroupNorm(groups, cout, eps)
        s.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        s.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
    def forward(s, x, temb):
        h = s.conv1(F.silu(s.norm1(x)))
        h = h + s.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = s.conv2(F.silu(s.norm2(h)))
        return ((x if s.conv_shortcut is None else s.conv_shortcut(x)) + h) / s.scale

class Attention(nn.Module):
    def __init__(s, dim, cdim, heads):
        super().__init__()
        s.heads = heads
        s.to_q = nn.Linear(dim, dim, bias=False)
        s.to_k = nn.Linear(cdim, dim, bias=False)
        s.to_v = nn.Linear(cdim, dim, bias=False)
        s.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])
    def forward(s, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, c = x.shape
        split = lambda t: t.view(b, -1, s.heads, c // s.heads).transpose(1, 2)
        o = sdpa(split(s.to_q(x)), split(s.to_k(ctx)), split(s.to_v(ctx)))
        return s.to_out[0](o.transpose(1, 2).reshape(b, n, c))

class GEGLU(nn.Module):
    def __init__(s, dim, inner):
        super().__init__()
        s.proj = nn.Linear(dim, 2 * inner)
    def forward(s, x):
        a, g = s.proj(x).chunk(2, -1)
        return a * F.gelu(g)

class FeedForward(nn.Module):
    def __init__(s, dim, mult=4):
        super().__init__()
        s.net = nn.ModuleList([GEGLU(dim, mult * dim), nn.Dropout(0.0), nn.Linear(mult * dim, dim)])
    def forward(s, x):
        return s.net[2](s.net[0](x))

class BasicTransformerBlock(nn.Module):
    def __init__(s, dim, heads, cdim):
        super().__init__()
        s.attn1 = Attention(dim, dim, heads)
        s.ff = FeedForward(dim)
        s.attn2 = Attention(dim, cdim, heads)
        s.norm1, s.norm2, s.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
    def forward(s, x, ctx):
        x = x + s.attn1(s.norm1(x))
        x = x + s.attn2(s.norm2(x), ctx)
        return x + s.ff(s.norm3(x))

class Transformer2DModel(nn.Module):
    def __init__(s, c, heads, cdim, groups=32, layers=1, linear=True):
        super().__init__()
        s.linear = linear
        s.norm = nn.GroupNorm(groups, c, 1e-6)
        s.proj_in = nn.Linear(c, c) if linear else nn.Conv2d(c, c, 1)
        s.transformer_blocks = nn.ModuleList([BasicTransformerBlock(c, heads, cdim) for _ in range(layers)])
        s.proj_out = nn.Linear(c, c) if linear else nn.Conv2d(c, c, 1)
    def forward(s, x, ctx):
        b, c, hh, ww = x.shape
        tokens = lambda t: t.permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        image = lambda t: t.reshape(b, hh, ww, c).permute(0, 3, 1, 2)
        h = s.norm(x)
        h = s.proj_in(tokens(h)) if s.linear else tokens(s.proj_in(h))
        for blk in s.transformer_blocks:
            h = blk(h, ctx)
        h = image(s.proj_out(h)) if s.linear else s.proj_out(image(h))
        return h + x

class Downsample2D(nn.Module):
    def __init__(s, c, pad):
        super().__init__()
        s.conv = nn.Conv2d(c, c, 3, stride=2, padding=pad)
    def forward(s, x):
        return s.conv(x)

class Upsample2D(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.conv = nn.Conv2d(c, c, 3, padding=1)
    def forward(s, x):
        return s.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))

class DownBlock(nn.Module):
    """DownBlock2D (heads 0) or CrossAttnDownBlock2D."""
    def __init__(s, cin, cout, temb, layers, heads, tl, down, o):
        super().__init__()
        s.attentions = nn.ModuleList([Transformer2DModel(cout, heads, o['cdim'], o['groups'], tl, o['linear']) for _ in range(layers)]) if heads else None
        s.resnets = nn.ModuleList([ResnetBlock2D(cin if j == 0 else cout, cout, temb, o['groups'], o['eps']) for j in range(layers)])
        s.downsamplers = nn.ModuleList([Downsample2D(cout, o['pad'])]) if down else None
    def forward(s, h, temb, ctx):
        skips = []
        for j, r in enumerate(s.resnets):
            h = r(h, temb)
            if s.attentions is not None:
                h = s.attentions[j](h, ctx)
            skips.append(h)
        if s.downsamplers is not None:
            h = s.downsamplers[0](h)
            skips.append(h)
        return h, skips

class UpBlock(nn.Module):
    """UpBlock2D (heads 0) or CrossAttnUpBlock2D; the last resnet takes the skip of the block below."""
    def __init__(s, prev, cout, skip_in, temb, layers, heads, tl, up, o):
        super().__init__()
        s.attentions = nn.ModuleList([Transformer2DModel(cout, heads, o['cdim'], o['groups'], tl, o['linear']) for _ in range(layers)]) if heads else None
        s.resnets = nn.ModuleList([ResnetBlock2D((prev if j == 0 else cout) + (skip_in if j == layers - 1 else cout), cout, temb, o['groups'], o['eps']) for j in range(layers)])
        s.upsamplers = nn.ModuleList([Upsample2D(cout)]) if up else None
    def forward(s, h, skips, temb, ctx):
        for j, r in enumerate(s.resnets):
            h = r(torch.cat([h, skips.pop()], 1), temb)
            if s.attentions is not None:
                h = s.attentions[j](h, ctx)
        return h if s.upsamplers is None else s.upsamplers[0](h)

class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(s, c, temb, heads, tl, o):
        super().__init__()
        s.attentions = nn.ModuleList([Transformer2DModel(c, heads, o['cdim'], o['groups'], tl, o['linear'])])
        s.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb, o['groups'], o['eps'], o['mid_scale']) for _ in range(2)])
    def forward(s, h, temb, ctx):
        h = s.resnets[0](h, temb)
        return s.resnets[1](s.attentions[0](h, ctx), temb)

class TimestepEmbedding(nn.Module):
    def __init__(s, cin, dim):
        super().__init__()
        s.linear_1, s.linear_2 = nn.Linear(cin, dim), nn.Linear(dim, dim)
    def forward(s, x):
        return s.linear_2(F.silu(s.linear_1(x)))

class UNet2DConditionModel(nn.Module):
    """From a diffusers config dict (the keys packages/models/src/unet/config.ts supports; defaults as there)."""
    def __init__(s, cfg):
        super().__init__()
        g = lambda k, d: d if cfg.get(k) is None else cfg[k]
        ch = g('block_out_channels', [320, 640, 1280, 1280])
        n = len(ch)
        per = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * n
        heads = per(g('num_attention_heads', g('attention_head_dim', 8)))
        layers = per(g('layers_per_block', 2))
        tl = per(g('transformer_layers_per_block', 1))
        cdim = per(g('cross_attention_dim', 1280))[0]
        o = dict(groups=g('norm_num_groups', 32), eps=g('norm_eps', 1e-5), cdim=cdim, linear=g('use_linear_projection', False),
                 pad=g('downsample_padding', 1), mid_scale=g('mid_block_scale_factor', 1))
        s.flip, s.shift, s.center = g('flip_sin_to_cos', True), g('freq_shift', 0), g('center_input_sample', False)
        temb = ch[0] * 4
        ki, ko = g('conv_in_kernel', 3), g('conv_out_kernel', 3)
        s.conv_in = nn.Conv2d(g('in_channels', 4), ch[0], ki, padding=(ki - 1) // 2)
        s.time_embedding = TimestepEmbedding(ch[0], temb)
        down = g('down_block_types', ['CrossAttnDownBlock2D'] * 3 + ['DownBlock2D'])
        up = g('up_block_types', ['UpBlock2D'] + ['CrossAttnUpBlock2D'] * 3)
        attn = lambda t, i: heads[i] if t.startswith('CrossAttn') else 0
        s.down_blocks = nn.ModuleList([DownBlock(ch[max(i - 1, 0)], ch[i], temb, layers[i], attn(t, i), tl[i], i < n - 1, o) for i, t in enumerate(down)])
        s.up_blocks = nn.ModuleList([UpBlock(ch[min(n - i, n - 1)], ch[n - 1 - i], ch[max(n - 2 - i, 0)], temb, layers[n - 1 - i] + 1, attn(t, n - 1 - i), tl[n - 1 - i], i < n - 1, o)
                                     for i, t in enumerate(up)])
        s.mid_block = UNetMidBlock2DCrossAttn(ch[-1], temb, heads[-1], tl[-1], o)
        s.conv_norm_out = nn.GroupNorm(o['groups'], ch[0], o['eps'])
        s.conv_out = nn.Conv2d(ch[0], g('out_channels', 4), ko, padding=(ko - 1) // 2)
    def time_proj(s, t, dim):
        half = dim // 2
        f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - s.shift))
        a = t[:, None].float() * f[None]
        return torch.cat([a.cos(), a.sin()] if s.flip else [a.sin(), a.cos()], -1)
    def forward(s, sample, timestep, ctx):
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.expand(sample.shape[0]) if t.ndim == 0 else t
        temb = s.time_embedding(s.time_proj(t, s.conv_in.out_channels))
        h = s.conv_in(2 * sample - 1 if s.center else sample)
        skips = [h]
        for blk in s.down_blocks:
            h, more = blk(h, temb, ctx)
            skips += more
        h = s.mid_block(h, temb, ctx)
        for blk in s.up_blocks:
            h = blk(h, skips, temb, ctx)
        return s.conv_out(F.silu(s.conv_norm_out(h)))

class UNet2DConditionModelEmb(UNet2DConditionModel):
    """The seed's decoder UNet: emb_proj_layers maps an image embedding [B, input_dim] to proj_n context tokens."""
    def __init__(s, cfg):
        super().__init__(cfg)
        s.proj_n, s.emb_dim = cfg['proj_n'], cfg['emb_dim']
        s.emb_proj_layers = nn.Linear(cfg['input_dim'], s.proj_n * s.emb_dim)
    def forward_emb(s, sample, timestep, image_embedding):
        ctx = s.emb_proj_layers(image_embedding).reshape(image_embedding.shape[0], s.proj_n, s.emb_dim)
        return s.forward(sample, timestep, ctx)

def build_unet(cfg):
    emb = cfg.get('_class_name') == 'UNet2DConditionModelEmb' or ('proj_n' in cfg and 'input_dim' in cfg)
    return (UNet2DConditionModelEmb if emb else UNet2DConditionModel)(cfg)
# --- torch-unet end ---
`;

/** A Python expression for a JSON-able value (a config dict): json.loads of its JSON text. */
export const pyJson = (value: unknown): string => `json.loads(${JSON.stringify(JSON.stringify(value))})`;
