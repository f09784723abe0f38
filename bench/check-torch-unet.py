#!/usr/bin/env python3
"""Checks bench/cases/torch-unet.ts (the PyTorch UNet the GPU benchmark runs) against diffusers' golden outputs.

Runs the Python source between the '# --- torch-unet begin/end ---' markers of bench/cases/torch-unet.ts on CPU:
for each of ../shared/data/decoder-golden/unet-{sd2,sd1,emb}-tiny it builds the model from config.json, loads
diffusion_pytorch_model.safetensors by name with strict=True and compares the forward pass with golden `output`
(max |error| <= 1e-4 of max |output|). Then the SD2-base UNet's state-dict names and shapes against
sd2-base-unet.keys.txt. With --cases (needs node + tsx, i.e. `pnpm install` done), it also runs every `torch`
string of bench/cases/decoder.ts once on CPU (SD2-base at batch 1 only: slow on CPU).

Needs PyTorch (1.13 works: a fallback stands in for F.scaled_dot_product_attention) and numpy; not safetensors.
    /usr/bin/python3 bench/check-torch-unet.py [--cases]
"""
import json, os, re, struct, subprocess, sys, tempfile, time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, '..', 'shared', 'data', 'decoder-golden')
TS = os.path.join(ROOT, 'bench', 'cases', 'torch-unet.ts')
TOL = 1e-4

DTYPES = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}


def read_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        if info['dtype'] == 'BF16':
            a, b = info['data_offsets']
            raw = np.frombuffer(data[a:b], dtype=np.uint16).astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            a, b = info['data_offsets']
            arr = np.frombuffer(data[a:b], dtype=DTYPES[info['dtype']])
        out[name] = torch.from_numpy(arr.reshape(info['shape']).copy())
    return out


def torch_unet_source():
    text = open(TS, encoding='utf8').read()
    m = re.search(r'^# --- torch-unet begin ---$.*?^# --- torch-unet end ---$', text, re.S | re.M)
    if not m:
        sys.exit(f'{TS}: markers not found')
    src = m.group(0)
    # What the template literal evaluates to must be the file's text: no escapes, no interpolation.
    for bad in ('\\', '`', '${'):
        if bad in src:
            sys.exit(f'{TS}: the Python source contains {bad!r}; the template literal would change it')
    return src


def load_ns(dev='cpu'):
    ns = {'torch': torch, 'dev': dev}
    exec(compile(torch_unet_source(), TS, 'exec'), ns)
    return ns


def check_golden(ns, name):
    folder = os.path.join(GOLDEN, name)
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    model = ns['build_unet'](cfg).eval()
    weights = read_safetensors(os.path.join(folder, 'diffusion_pytorch_model.safetensors'))
    model.load_state_dict(weights, strict=True)
    g = read_safetensors(os.path.join(folder, 'golden.safetensors'))
    with torch.no_grad():
        if 'image_embedding' in g:
            out = model.forward_emb(g['sample'], g['timestep'], g['image_embedding'])
        else:
            out = model(g['sample'], g['timestep'], g['encoder_hidden_states'])
    ref = g['output']
    err = (out - ref).abs().max().item()
    mag = ref.abs().max().item()
    ok = out.shape == ref.shape and err <= TOL * mag
    print(f'{name:14s} {cfg["_class_name"]:24s} {len(weights)} tensors loaded strict  out {tuple(out.shape)}  '
          f'max|err| {err:.3e}  max|ref| {mag:.3e}  rel {err / mag:.3e}  {"ok" if ok else "FAIL"}')
    return ok


def check_sd2_keys(ns):
    # SD2-base's config, as packages/models/src/unet/config.ts has it (SD2_BASE_UNET_CONFIG).
    cfg = dict(attention_head_dim=[5, 10, 20, 20], block_out_channels=[320, 640, 1280, 1280], cross_attention_dim=1024,
               down_block_types=['CrossAttnDownBlock2D'] * 3 + ['DownBlock2D'], layers_per_block=2, norm_num_groups=32,
               up_block_types=['UpBlock2D'] + ['CrossAttnUpBlock2D'] * 3, use_linear_projection=True)
    with torch.device('meta') if hasattr(torch.device('meta'), '__enter__') else _skip_init():
        model = ns['UNet2DConditionModel'](cfg)
    want = {}  # in diffusers' order
    for line in open(os.path.join(GOLDEN, 'sd2-base-unet.keys.txt')):
        if line.strip():
            k, shape = line.split(' ', 1)
            want[k] = json.loads(shape)
    have = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    shapes = [k for k in want if k in have and want[k] != have[k]]
    order = list(have) == list(want)
    ok = not missing and not extra and not shapes
    n = sum(int(np.prod(s)) for s in have.values())
    print(f'sd2-base keys  {len(have)} tensors ({n / 1e6:.1f} M parameters) vs {len(want)} in sd2-base-unet.keys.txt: '
          f'{len(missing)} missing, {len(extra)} extra, {len(shapes)} shape mismatches, '
          f'{"same" if order else "different"} order  {"ok" if ok else "FAIL"}')
    for k in (missing + extra + shapes)[:10]:
        print('   ', k, want.get(k), have.get(k))
    return ok


class _skip_init:
    """PyTorch < 2.0: build SD2-base's 865 M parameters without spending time on their initialisation."""
    def __enter__(self):
        self.saved = {m: getattr(torch.nn.init, m) for m in ('kaiming_uniform_', 'uniform_', 'normal_', 'ones_', 'zeros_')}
        for m in self.saved:
            setattr(torch.nn.init, m, lambda t, *a, **k: t)
    def __exit__(self, *exc):
        for m, f in self.saved.items():
            setattr(torch.nn.init, m, f)


def dump_cases():
    """Every case of bench/cases/decoder.ts as [kernel, shape, torch] (through tsx)."""
    with tempfile.NamedTemporaryFile('w', suffix='.mts', delete=False) as f:
        f.write(f"import {{ cases }} from {json.dumps(os.path.join(ROOT, 'bench', 'cases', 'decoder.ts'))};\n"
                "console.log(JSON.stringify(cases.map((c) => [c.kernel, c.shape, c.torch ?? null])));\n")
    try:
        r = subprocess.run(['npx', 'tsx', f.name], cwd=ROOT, capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_cases():
    ok = True
    for kernel, shape, code in dump_cases():
        if code is None:
            print(f'case {kernel} [{shape}]: no torch string  FAIL')
            ok = False
            continue
        if kernel == 'sd2_unet_fwd' and 'batch 1' not in shape:
            print(f'case {kernel} [{shape}]: skipped on CPU (batch 1 runs the same code)')
            continue
        ns = {'torch': torch, 'dev': 'cpu'}
        start = time.time()
        exec(code, ns)
        setup = time.time() - start
        before = [p.detach().clone() for p in ns['model'].parameters()][:4] if 'opt' in ns else None
        start = time.time()
        ns['fn']()
        ran = time.time() - start
        note = ''
        if before is not None:
            after = list(ns['model'].parameters())[:4]
            moved = all(not torch.equal(a, b.detach()) for a, b in zip(before, after))
            note = f'; parameters updated: {moved}'
            ok &= moved
        if kernel == 'sd2_unet_fwd':
            n = sum(p.numel() for p in ns['model'].parameters())
            note = f'; {n / 1e6:.1f} M parameters, std {torch.cat([p.flatten()[:1000] for p in ns["model"].parameters()]).std():.4f}'
        print(f'case {kernel} [{shape}]: setup {setup:.1f} s, fn() {ran:.1f} s on CPU{note}')
        del ns
    return ok


def main():
    torch.manual_seed(0)
    torch.set_grad_enabled(True)
    ns = load_ns()
    print(f'torch {torch.__version__}; F.scaled_dot_product_attention: '
          f'{"PyTorch" if hasattr(torch.nn.functional, "scaled_dot_product_attention") else "fallback (PyTorch < 2.0)"}')
    ok = True
    for name in ('unet-sd2-tiny', 'unet-sd1-tiny', 'unet-emb-tiny'):
        ok &= check_golden(ns, name)
    ok &= check_sd2_keys(ns)
    if '--cases' in sys.argv[1:]:
        ok &= run_cases()
    print('all ok' if ok else 'FAILED')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
