#!/usr/bin/python3
"""Self-checks of tools/reference_model.py that need neither keel nor torch.

Builds small random models in a temp directory (its own tiny safetensors
writer) and checks causality, architecture equivalences, RoPE scaling, tied
embeddings, sharded and bf16/f16 loading, error reporting, the CLI, and agreement
with a slow per-token loop implementation written independently below.
Exit 0 on success, 1 with a message on the first failure.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_model as rm  # noqa: E402


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def max_rel_diff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def check_close(a, b, tol, what):
    check(a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}")
    d = max_rel_diff(a, b)
    check(d <= tol, f"{what}: max diff {d:.3e} > {tol:.1e}")
    return d


def check_equal(a, b, what):
    check(a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}")
    check(np.array_equal(a, b), f"{what}: not bitwise identical (max diff {max_rel_diff(a, b):.3e})")


# --------------------------------------------------------------------------
# tiny safetensors writer
# --------------------------------------------------------------------------

def bf16_bits(x):
    """float32 -> bf16 bit patterns, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_round(x):
    return (bf16_bits(x).astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors, dtype="F32"):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name], dtype=np.float32)
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = a.astype("<f2").tobytes()
        elif dtype == "BF16":
            raw = bf16_bits(a).astype("<u2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hb = json.dumps(header).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for b in blobs:
            f.write(b)


_counter = [0]


def write_model(root, cfg, tensors, dtype="F32", shards=1):
    _counter[0] += 1
    d = os.path.join(root, f"m{_counter[0]}")
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype)
    else:
        names = sorted(tensors)
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: tensors[n] for n in names[s::shards]}
            write_safetensors(os.path.join(d, fname), part, dtype)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return d


# --------------------------------------------------------------------------
# random models
# --------------------------------------------------------------------------

def llama_config(**kw):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "hidden_size": 16, "intermediate_size": 24,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 40, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False,
    }
    cfg.update(kw)
    return cfg


def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def random_tensors(rng, cfg, qkv_bias=False, o_bias=False, mlp_bias=False, qk_norm=False, lm_head=True):
    """Llama-named float32 tensors (values exactly representable in float32)."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)

    def mat(o, i):
        return (rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32)

    def vec(n, base=0.0, s=0.1):
        return (base + s * rng.standard_normal(n)).astype(np.float32)

    t = {"model.embed_tokens.weight": rng.standard_normal((V, H)).astype(np.float32),
         "model.norm.weight": vec(H, 1.0)}
    if lm_head:
        t["lm_head.weight"] = mat(V, H)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = vec(H, 1.0)
        t[p + "post_attention_layernorm.weight"] = vec(H, 1.0)
        t[p + "self_attn.q_proj.weight"] = mat(nh * D, H)
        t[p + "self_attn.k_proj.weight"] = mat(nkv * D, H)
        t[p + "self_attn.v_proj.weight"] = mat(nkv * D, H)
        t[p + "self_attn.o_proj.weight"] = mat(H, nh * D)
        if qkv_bias:
            t[p + "self_attn.q_proj.bias"] = vec(nh * D, s=0.3)
            t[p + "self_attn.k_proj.bias"] = vec(nkv * D, s=0.3)
            t[p + "self_attn.v_proj.bias"] = vec(nkv * D, s=0.3)
        if o_bias:
            t[p + "self_attn.o_proj.bias"] = vec(H, s=0.3)
        if qk_norm:
            t[p + "self_attn.q_norm.weight"] = vec(D, 1.0, 0.3)
            t[p + "self_attn.k_norm.weight"] = vec(D, 1.0, 0.3)
        t[p + "mlp.gate_proj.weight"] = mat(I, H)
        t[p + "mlp.up_proj.weight"] = mat(I, H)
        t[p + "mlp.down_proj.weight"] = mat(H, I)
        if mlp_bias:
            t[p + "mlp.gate_proj.bias"] = vec(I, s=0.3)
            t[p + "mlp.up_proj.bias"] = vec(I, s=0.3)
            t[p + "mlp.down_proj.bias"] = vec(H, s=0.3)
    return t


def to_internlm2(cfg, t, bias):
    """Llama config+tensors -> InternLM2 config+tensors (grouped wqkv), by explicit loops."""
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    per = nh // nkv
    c = {
        "architectures": ["InternLM2ForCausalLM"], "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"], "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": nh, "num_key_value_heads": nkv, "vocab_size": cfg["vocab_size"],
        "max_position_embeddings": cfg["max_position_embeddings"], "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_theta": cfg["rope_theta"], "hidden_act": "silu", "bias": bias,
        "tie_word_embeddings": False,
    }
    if cfg.get("rope_scaling"):
        c["rope_scaling"] = {"type": cfg["rope_scaling"]["rope_type"], "factor": cfg["rope_scaling"]["factor"]}
    o = {"model.tok_embeddings.weight": t["model.embed_tokens.weight"], "model.norm.weight": t["model.norm.weight"],
         "output.weight": t["lm_head.weight"]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        rows, brows = [], []
        for g in range(nkv):
            for j in range(per):
                h = g * per + j
                rows.append(t[a + "q_proj.weight"][h * D:(h + 1) * D])
                if bias:
                    brows.append(t[a + "q_proj.bias"][h * D:(h + 1) * D])
            rows.append(t[a + "k_proj.weight"][g * D:(g + 1) * D])
            rows.append(t[a + "v_proj.weight"][g * D:(g + 1) * D])
            if bias:
                brows.append(t[a + "k_proj.bias"][g * D:(g + 1) * D])
                brows.append(t[a + "v_proj.bias"][g * D:(g + 1) * D])
        o[p + "attention.wqkv.weight"] = np.concatenate(rows, axis=0)
        o[p + "attention.wo.weight"] = t[a + "o_proj.weight"]
        if bias:
            o[p + "attention.wqkv.bias"] = np.concatenate(brows)
            o[p + "attention.wo.bias"] = t[a + "o_proj.bias"]
        o[p + "attention_norm.weight"] = t[p + "input_layernorm.weight"]
        o[p + "ffn_norm.weight"] = t[p + "post_attention_layernorm.weight"]
        o[p + "feed_forward.w1.weight"] = t[p + "mlp.gate_proj.weight"]
        o[p + "feed_forward.w3.weight"] = t[p + "mlp.up_proj.weight"]
        o[p + "feed_forward.w2.weight"] = t[p + "mlp.down_proj.weight"]
    return c, o


# --------------------------------------------------------------------------
# independent slow implementation: one token, one head, one frequency at a time
# --------------------------------------------------------------------------

def loop_forward(cfg, t, tokens, window=None, inv_freq=None, pos_scale=1.0, qk_norm=False, tied=False):
    H = cfg["hidden_size"]
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    eps = cfg["rms_norm_eps"]
    half = D // 2
    if inv_freq is None:
        inv_freq = [cfg["rope_theta"] ** (-(2.0 * i) / D) for i in range(half)]
    T64 = {k: np.asarray(v, dtype=np.float64) for k, v in t.items()}

    def rms(x, w):
        ms = sum(float(e) * float(e) for e in x) / len(x)
        r = 1.0 / math.sqrt(ms + eps)
        return np.array([float(x[i]) * r * float(w[i]) for i in range(len(x))])

    def lin(x, name, bias_name=None):
        y = T64[name] @ x
        if bias_name is not None and bias_name in T64:
            y = y + T64[bias_name]
        return y

    def rope(x, pos):
        out = np.array(x, dtype=np.float64)
        for i in range(half):
            ang = (pos * pos_scale) * inv_freq[i]
            c, s = math.cos(ang), math.sin(ang)
            out[i] = x[i] * c - x[i + half] * s
            out[i + half] = x[i + half] * c + x[i] * s
        return out

    xs = [T64["model.embed_tokens.weight"][tok].copy() for tok in tokens]
    n = len(tokens)
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{li}."
        a = p + "self_attn."
        qs, ks, vs = [], [], []
        for pos in range(n):
            h = rms(xs[pos], T64[p + "input_layernorm.weight"])
            q = lin(h, a + "q_proj.weight", a + "q_proj.bias")
            k = lin(h, a + "k_proj.weight", a + "k_proj.bias")
            v = lin(h, a + "v_proj.weight", a + "v_proj.bias")
            qh = [q[j * D:(j + 1) * D] for j in range(nh)]
            kh = [k[j * D:(j + 1) * D] for j in range(nkv)]
            vh = [v[j * D:(j + 1) * D] for j in range(nkv)]
            if qk_norm:
                qh = [rms(e, T64[a + "q_norm.weight"]) for e in qh]
                kh = [rms(e, T64[a + "k_norm.weight"]) for e in kh]
            qs.append([rope(e, pos) for e in qh])
            ks.append([rope(e, pos) for e in kh])
            vs.append(vh)
        new = []
        for pos in range(n):
            heads = []
            for hq in range(nh):
                kvh = hq // (nh // nkv)
                keys = [j for j in range(pos + 1) if window is None or pos - j < window]
                sc = [sum(qs[pos][hq][e] * ks[j][kvh][e] for e in range(D)) / math.sqrt(D) for j in keys]
                mx = max(sc)
                ex = [math.exp(s - mx) for s in sc]
                tot = sum(ex)
                out = np.zeros(D)
                for w, j in zip(ex, keys):
                    out += (w / tot) * vs[j][kvh]
                heads.append(out)
            o = lin(np.concatenate(heads), a + "o_proj.weight", a + "o_proj.bias")
            x = xs[pos] + o
            h = rms(x, T64[p + "post_attention_layernorm.weight"])
            g = lin(h, p + "mlp.gate_proj.weight", p + "mlp.gate_proj.bias")
            u = lin(h, p + "mlp.up_proj.weight", p + "mlp.up_proj.bias")
            act = np.array([gi / (1.0 + math.exp(-gi)) * ui for gi, ui in zip(g, u)])
            x = x + lin(act, p + "mlp.down_proj.weight", p + "mlp.down_proj.bias")
            new.append(x)
        xs = new
    head = T64["model.embed_tokens.weight"] if tied else T64["lm_head.weight"]
    return np.stack([head @ rms(x, T64["model.norm.weight"]) for x in xs])


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

def run_ref(d, tokens, dtype="f64"):
    return rm.forward(rm.load_model(d, dtype), tokens)


def expect_error(fn, fragment, what):
    try:
        fn()
    except rm.ReferenceModelError as e:
        check(fragment in str(e), f"{what}: error message '{e}' lacks '{fragment}'")
        return str(e)
    raise Failure(f"{what}: no ReferenceModelError raised")


def test_loop_agreement(root, rng):
    """8. hand-checkable single token + multi-token agreement with the loop implementation."""
    # Single token, 1 layer, tiny dims: RoPE at position 0 is the identity and
    # softmax over one key is 1, so attention output is exactly v.
    cfg = llama_config(hidden_size=4, intermediate_size=3, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=1, vocab_size=5)
    t = random_tensors(rng, cfg)
    d = write_model(root, cfg, t)
    got = run_ref(d, [3])
    W = {k: v.astype(np.float64) for k, v in t.items()}
    p = "model.layers.0."

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x) + 1e-5) * w
    x = W["model.embed_tokens.weight"][3]
    h = rms(x, W[p + "input_layernorm.weight"])
    v = W[p + "self_attn.v_proj.weight"] @ h             # one KV head, head_dim 2
    x = x + W[p + "self_attn.o_proj.weight"] @ np.concatenate([v, v])  # both query heads see it
    h = rms(x, W[p + "post_attention_layernorm.weight"])
    g = W[p + "mlp.gate_proj.weight"] @ h
    u = W[p + "mlp.up_proj.weight"] @ h
    x = x + W[p + "mlp.down_proj.weight"] @ (g / (1 + np.exp(-g)) * u)
    want = (W["lm_head.weight"] @ rms(x, W["model.norm.weight"]))[None, :]
    d1 = check_close(got, want, 1e-12, "single-token hand computation")

    # Multi-token, GQA, all Llama biases, 2 layers.
    cfg = llama_config(attention_bias=True, mlp_bias=True)
    t = random_tensors(rng, cfg, qkv_bias=True, o_bias=True, mlp_bias=True)
    d = write_model(root, cfg, t)
    toks = [1, 7, 3, 39, 0, 12]
    d2 = check_close(run_ref(d, toks), loop_forward(cfg, t, toks), 1e-10, "llama (biases, GQA) vs loop")
    # Same in f32 compute: close to the f64 loop.
    d3 = check_close(run_ref(d, toks, "f32"), loop_forward(cfg, t, toks), 1e-4, "llama f32 compute vs f64 loop")
    return f"single token {d1:.1e}; 6 tokens biases+GQA {d2:.1e}; f32 compute {d3:.1e}"


def test_causality(root, rng):
    """1. prefix logits do not change when tokens are appended."""
    out = []
    toks = [int(v) for v in rng.integers(0, 40, 14)]
    for name, cfg, kw in [
        ("llama", llama_config(), {}),
        ("mistral sw=4", llama_config(architectures=["MistralForCausalLM"], sliding_window=4), {}),
        ("qwen3", llama_config(architectures=["Qwen3ForCausalLM"], head_dim=6), {"qk_norm": True}),
    ]:
        d = write_model(root, cfg, random_tensors(rng, cfg, **kw))
        m = rm.load_model(d)
        full = rm.forward(m, toks)
        for n in (1, 5, 9):
            check_close(rm.forward(m, toks[:n]), full[:n], 1e-12, f"causality {name} prefix {n}")
        out.append(name)
    # Dynamic NTK is the documented exception (HF semantics): the base depends on the
    # total length, so prefixes change once the sequence exceeds max_position_embeddings.
    cfg = llama_config(max_position_embeddings=8, rope_scaling={"rope_type": "dynamic", "factor": 2.0})
    m = rm.load_model(write_model(root, cfg, random_tensors(rng, cfg)))
    check_close(rm.forward(m, toks[:6]), rm.forward(m, toks[:8])[:6], 1e-12, "dynamic NTK prefix below max_pos")
    check(max_rel_diff(rm.forward(m, toks[:6]), rm.forward(m, toks)[:6]) > 1e-6,
          "dynamic NTK above max_pos should change prefix logits (HF recomputes the base)")
    return ", ".join(out) + "; dynamic NTK changes prefixes only past max_pos (as HF)"


def test_internlm2(root, rng):
    """2. Llama packed into InternLM2 grouped wqkv gives the same logits."""
    toks = [5, 2, 33, 8, 17, 21, 0]
    res = []
    for bias, heads, kv, scaling in [(False, 4, 2, None), (True, 6, 2, None), (False, 4, 4, None),
                                     (True, 4, 1, {"rope_type": "linear", "factor": 2.0}),
                                     (False, 4, 2, {"rope_type": "dynamic", "factor": 3.0})]:
        hidden = 24 if heads == 6 else 16
        cfg = llama_config(hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=kv,
                           attention_bias=bias, max_position_embeddings=5)
        if scaling:
            cfg["rope_scaling"] = scaling
        t = random_tensors(rng, cfg, qkv_bias=bias, o_bias=bias)
        want = run_ref(write_model(root, cfg, t), toks)
        ic, it = to_internlm2(cfg, t, bias)
        got = run_ref(write_model(root, ic, it), toks)
        d = check_close(got, want, 1e-10, f"internlm2 vs llama (bias={bias}, heads={heads}, kv={kv}, {scaling})")
        res.append(d)
    return f"5 variants (bias, MHA/GQA/MQA, linear, dynamic past max_pos), max diff {max(res):.1e}"


def test_qwen(root, rng):
    """3. Qwen2 zero biases == Llama; Qwen3 vs hand loop (q_norm/k_norm before RoPE)."""
    toks = [4, 9, 31, 2, 2, 18]
    cfg = llama_config()
    t = random_tensors(rng, cfg)
    want = run_ref(write_model(root, cfg, t), toks)
    q2 = dict(cfg, architectures=["Qwen2ForCausalLM"], use_sliding_window=False, sliding_window=2)
    del q2["attention_bias"], q2["mlp_bias"]
    tq = dict(t)
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    for i in range(cfg["num_hidden_layers"]):
        a = f"model.layers.{i}.self_attn."
        tq[a + "q_proj.bias"] = np.zeros(nh * D, np.float32)
        tq[a + "k_proj.bias"] = np.zeros(nkv * D, np.float32)
        tq[a + "v_proj.bias"] = np.zeros(nkv * D, np.float32)
    check_close(run_ref(write_model(root, q2, tq), toks), want, 1e-12, "qwen2 zero biases vs llama")
    # Nonzero qkv biases: Qwen2 equals Llama with attention_bias and a zero o_proj bias.
    tb = random_tensors(rng, cfg, qkv_bias=True)
    lb = dict(tb)
    for i in range(cfg["num_hidden_layers"]):
        lb[f"model.layers.{i}.self_attn.o_proj.bias"] = np.zeros(cfg["hidden_size"], np.float32)
    check_close(run_ref(write_model(root, q2, tb), toks),
                run_ref(write_model(root, dict(cfg, attention_bias=True), lb), toks), 1e-12,
                "qwen2 biases vs llama attention_bias")
    check_close(run_ref(write_model(root, q2, tb), toks), loop_forward(cfg, tb, toks), 1e-10,
                "qwen2 biases vs loop")
    # Qwen2 use_sliding_window applies from layer max_window_layers on.
    qs = dict(q2, use_sliding_window=True, sliding_window=2, max_window_layers=1)
    m = rm.load_model(write_model(root, qs, tb))
    check(m.window == [None, 2], f"qwen2 max_window_layers=1 -> windows {m.window}, want [None, 2]")

    # Qwen3: explicit head_dim != hidden/heads, random q_norm/k_norm, 2 tokens, 1 layer.
    c3 = llama_config(architectures=["Qwen3ForCausalLM"], hidden_size=12, num_attention_heads=2,
                      num_key_value_heads=1, head_dim=8, num_hidden_layers=1, rms_norm_eps=1e-6)
    del c3["mlp_bias"]
    t3 = random_tensors(rng, c3, qk_norm=True)
    d = check_close(run_ref(write_model(root, c3, t3), [3, 11]), loop_forward(c3, t3, [3, 11], qk_norm=True),
                    1e-10, "qwen3 vs hand loop")
    c3b = dict(c3, num_hidden_layers=2, attention_bias=True, num_attention_heads=4, num_key_value_heads=2)
    t3b = random_tensors(rng, c3b, qkv_bias=True, o_bias=True, qk_norm=True)
    d2 = check_close(run_ref(write_model(root, c3b, t3b), toks), loop_forward(c3b, t3b, toks, qk_norm=True),
                     1e-10, "qwen3 attention_bias vs loop")
    return f"qwen2==llama; qwen3 hand loop {d:.1e}, with biases {d2:.1e}"


def test_sliding_window(root, rng):
    """Mistral sliding window: key j masked for query i when i - j >= window."""
    toks = [int(v) for v in rng.integers(0, 40, 9)]
    cfg = llama_config(architectures=["MistralForCausalLM"], sliding_window=3)
    t = random_tensors(rng, cfg)
    d = check_close(run_ref(write_model(root, cfg, t), toks), loop_forward(cfg, t, toks, window=3), 1e-10,
                    "mistral window 3 vs loop")
    check(max_rel_diff(run_ref(write_model(root, cfg, t), toks), loop_forward(cfg, t, toks, window=4)) > 1e-6,
          "window off-by-one is not distinguishable")
    allowed = rm.attention_mask(5, 2)
    want = np.array([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 1]], bool)
    check(np.array_equal(allowed, want), f"mask for window 2:\n{allowed.astype(int)}")
    # window >= length and null window equal plain Llama
    ll = run_ref(write_model(root, llama_config(), t), toks)
    check_close(run_ref(write_model(root, dict(cfg, sliding_window=len(toks)), t), toks), ll, 1e-12,
                "mistral window=len vs llama")
    check_close(run_ref(write_model(root, dict(cfg, sliding_window=None), t), toks), ll, 1e-12,
                "mistral window=null vs llama")
    return f"window 3 vs loop {d:.1e}; window>=len and null == llama"


def llama3_inv_freq_by_hand(theta, D, factor, low, high, orig):
    out = []
    for i in range(D // 2):
        f = theta ** (-(2.0 * i) / D)
        wl = 2 * math.pi / f
        if wl < orig / high:
            out.append(f)
        elif wl > orig / low:
            out.append(f / factor)
        else:
            s = (orig / wl - low) / (high - low)
            out.append((1 - s) * f / factor + s * f)
    return out


def test_rope(root, rng):
    """4. RoPE scaling variants."""
    toks = [int(v) for v in rng.integers(0, 40, 12)]
    base = llama_config(max_position_embeddings=16)
    t = random_tensors(rng, base)
    ref = run_ref(write_model(root, base, t), toks)
    for sc in ({"rope_type": "default"}, {"type": "dynamic", "factor": 2.0},
               {"rope_type": "dynamic", "factor": 4.0}, {"rope_type": "linear", "factor": 1.0}):
        check_equal(run_ref(write_model(root, dict(base, rope_scaling=sc), t), toks), ref,
                    f"{sc} below max_pos vs default")
    # llama3 with factor 1 is the identity up to rounding ((1-s)*f + s*f).
    l3 = {"rope_type": "llama3", "factor": 1.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 32}
    check_close(run_ref(write_model(root, dict(base, rope_scaling=l3), t), toks), ref, 1e-12,
                "llama3 factor 1 vs default")
    # dynamic above max_pos == default with the NTK-enlarged base.
    D = head_dim_of(base)
    long_toks = [int(v) for v in rng.integers(0, 40, 24)]
    dyn = run_ref(write_model(root, dict(base, rope_scaling={"rope_type": "dynamic", "factor": 2.0}), t), long_toks)
    theta2 = 10000.0 * (2.0 * 24 / 16 - 1.0) ** (D / (D - 2.0))
    check_close(dyn, run_ref(write_model(root, dict(base, rope_theta=theta2), t), long_toks), 1e-10,
                "dynamic above max_pos vs enlarged theta")
    check(max_rel_diff(dyn, run_ref(write_model(root, base, t), long_toks)) > 1e-6, "dynamic had no effect")
    # linear factor 2.5 == positions / 2.5 in the loop implementation.
    lin = run_ref(write_model(root, dict(base, rope_scaling={"rope_type": "linear", "factor": 2.5}), t), toks)
    check_close(lin, loop_forward(base, t, toks, pos_scale=1 / 2.5), 1e-10, "linear 2.5 vs loop positions/2.5")
    # llama3 with real parameters: hand-computed frequencies, and the model vs the loop.
    cfg3 = llama_config(hidden_size=32, num_attention_heads=2, num_key_value_heads=1)  # head_dim 16
    l3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 32}
    cfg3["rope_scaling"] = l3
    m = rm.load_model(write_model(root, cfg3, random_tensors(rng, cfg3)))
    hand = llama3_inv_freq_by_hand(10000.0, 16, 8.0, 1.0, 4.0, 32.0)
    check_close(rm.rope_inv_freq(m, 10), np.array(hand), 1e-15, "llama3 inv_freq vs hand")
    plain = [10000.0 ** (-(2.0 * i) / 16) for i in range(8)]
    bands = ["high" if h == p else ("low" if abs(h - p / 8) < 1e-18 else "mid") for h, p in zip(hand, plain)]
    check(bands[0] == "high" and bands[1] == "mid" and all(b == "low" for b in bands[2:]),
          f"llama3 band layout unexpected: {bands}")
    t3 = random_tensors(rng, cfg3)
    got = run_ref(write_model(root, cfg3, t3), toks)
    check_close(got, loop_forward(cfg3, t3, toks, inv_freq=hand), 1e-10, "llama3 model vs loop")
    # rope_parameters (newer transformers) is accepted as well.
    newer = dict(base)
    del newer["rope_theta"]
    newer["rope_parameters"] = {"rope_type": "linear", "factor": 2.5, "rope_theta": 10000.0}
    check_close(run_ref(write_model(root, newer, t), toks), lin, 0.0, "rope_parameters vs rope_scaling")
    return "dynamic/linear(1)/default keys identical below max_pos; llama3(1)~default; dynamic theta'; " \
           f"linear 2.5; llama3 bands {bands}"


def test_tied(root, rng):
    """5. tied embeddings use embed_tokens; untied use lm_head."""
    toks = [3, 1, 4, 1, 5, 9]
    cfg = llama_config(tie_word_embeddings=True)
    t = random_tensors(rng, cfg, lm_head=False)
    tied = run_ref(write_model(root, cfg, t), toks)
    check_close(tied, loop_forward(cfg, t, toks, tied=True), 1e-10, "tied vs loop with embed")
    t2 = dict(t, **{"lm_head.weight": t["model.embed_tokens.weight"].copy()})
    check_equal(run_ref(write_model(root, dict(cfg, tie_word_embeddings=False), t2), toks), tied,
                "untied with lm_head=embed vs tied")
    t3 = dict(t, **{"lm_head.weight": random_tensors(rng, cfg)["lm_head.weight"]})
    untied = run_ref(write_model(root, dict(cfg, tie_word_embeddings=False), t3), toks)
    check_close(untied, loop_forward(cfg, t3, toks), 1e-10, "untied vs loop with lm_head")
    check(max_rel_diff(untied, tied) > 1e-3, "untied lm_head was not used")
    d = write_model(root, dict(cfg, tie_word_embeddings=False), t)
    expect_error(lambda: rm.load_model(d), "lm_head.weight", "untied without lm_head")
    return "tied == embed, untied == lm_head, missing lm_head errors"


def test_sharded(root, rng):
    """6. 2 shards + index == single file."""
    toks = [2, 4, 6, 8, 10]
    cfg = llama_config()
    t = random_tensors(rng, cfg)
    one = run_ref(write_model(root, cfg, t), toks)
    d2 = write_model(root, cfg, t, shards=2)
    check(len([f for f in os.listdir(d2) if f.endswith(".safetensors")]) == 2, "expected 2 shard files")
    check_equal(run_ref(d2, toks), one, "2 shards vs single file")
    check_equal(run_ref(write_model(root, cfg, t, shards=3), toks), one, "3 shards vs single file")
    return "2 and 3 shards identical"


def test_half_dtypes(root, rng):
    """7. bf16/f16 weights load exactly as the f32 model with pre-rounded weights."""
    toks = [7, 0, 19, 23]
    cfg = llama_config()
    t = random_tensors(rng, cfg)
    for dtype, rnd in (("BF16", bf16_round), ("F16", lambda a: a.astype(np.float16).astype(np.float32))):
        rounded = {k: rnd(v) for k, v in t.items()}
        want = run_ref(write_model(root, cfg, rounded, "F32"), toks)
        check_equal(run_ref(write_model(root, cfg, t, dtype), toks), want, f"{dtype} vs pre-rounded F32")
    # bf16 decode of known bit patterns
    bits = np.array([0x3F80, 0xC000, 0x7F80, 0x0001], np.uint16)
    vals = (bits.astype(np.uint32) << 16).view(np.float32)
    check(list(vals[:3]) == [1.0, -2.0, np.inf] and vals[3] > 0, f"bf16 decode {vals}")
    return "BF16 and F16 identical to pre-rounded F32"


def test_errors(root, rng):
    cfg = llama_config()
    t = random_tensors(rng, cfg)
    msgs = []
    d = write_model(root, dict(cfg, architectures=["GPT2LMHeadModel"]), t)
    msgs.append(expect_error(lambda: rm.load_model(d), "GPT2LMHeadModel", "unknown architecture"))
    t2 = dict(t)
    del t2["model.layers.1.mlp.up_proj.weight"]
    d = write_model(root, cfg, t2)
    msgs.append(expect_error(lambda: rm.load_model(d), "model.layers.1.mlp.up_proj.weight", "missing tensor"))
    t3 = dict(t, **{"model.layers.0.self_attn.k_proj.weight": np.zeros((4, 16), np.float32)})
    d = write_model(root, cfg, t3)
    msgs.append(expect_error(lambda: rm.load_model(d), "k_proj.weight", "wrong shape"))
    d = write_model(root, cfg, t)
    m = rm.load_model(d)
    msgs.append(expect_error(lambda: rm.forward(m, [1, 40]), "40", "token out of range"))
    d = write_model(root, dict(cfg, rope_scaling={"rope_type": "yarn", "factor": 2.0}), t)
    msgs.append(expect_error(lambda: rm.load_model(d), "yarn", "unsupported rope"))
    d = write_model(root, cfg, t)
    os.remove(os.path.join(d, "model.safetensors"))
    msgs.append(expect_error(lambda: rm.load_model(d), "model.safetensors", "no weights"))
    return "; ".join(msgs)


def test_cli(root, rng):
    cfg = llama_config()
    t = random_tensors(rng, cfg)
    d = write_model(root, cfg, t)
    toks = [1, 2, 3, 4, 5]
    out = os.path.join(root, "logits.bin")
    for dt in ("f64", "f32"):
        r = subprocess.run([sys.executable, os.path.join(HERE, "reference_model.py"), "--model", d, "--tokens",
                            ",".join(map(str, toks)), "--out", out, "--dtype-compute", dt],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"CLI failed ({dt}): {r.stderr}")
        got = np.fromfile(out, dtype="<f4")
        check(got.size == len(toks) * cfg["vocab_size"], f"CLI wrote {got.size} floats")
        want = run_ref(d, toks, dt).astype(np.float32)
        check_equal(got.reshape(len(toks), -1), want, f"CLI output ({dt})")
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_model.py"), "--model", d, "--tokens",
                        "1,99", "--out", out], capture_output=True, text=True)
    check(r.returncode == 2 and "out of range" in r.stderr, f"CLI bad token: rc={r.returncode} {r.stderr}")
    return "f64/f32 files match forward(); bad token -> rc 2"


def test_speed(root, rng):
    cfg = llama_config(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                       num_key_value_heads=4, vocab_size=32000, max_position_embeddings=512)
    t = random_tensors(rng, cfg)
    d = write_model(root, cfg, t)
    toks = [int(v) for v in rng.integers(0, 32000, 300)]
    t0 = time.perf_counter()
    out = run_ref(d, toks)
    dt = time.perf_counter() - t0
    check(np.all(np.isfinite(out)), "non-finite logits")
    check(dt < 30, f"too slow: {dt:.1f}s")
    return f"hidden 256, 4 layers, vocab 32000, 300 tokens: {dt:.2f}s"


def stories_dir():
    cands = ["/work/shared/models/stories260K"]
    src = os.environ.get("KEEL_SOURCE_DIR")
    if src:
        cands.append(os.path.join(src, "..", "shared", "models", "stories260K"))
    cands.append(os.path.join(HERE, "..", "..", "shared", "models", "stories260K"))
    for c in cands:
        if os.path.isfile(os.path.join(c, "config.json")):
            return os.path.normpath(c)
    return None


def test_stories(root, rng):
    """9. the real stories260K model, when present."""
    d = stories_dir()
    if d is None:
        return "SKIPPED: stories260K not found (/work/shared/models or $KEEL_SOURCE_DIR/../shared/models)"
    m = rm.load_model(d)

    def greedy(n):
        seq = [1]
        while len(seq) < n:
            lg = rm.forward(m, seq)
            check(np.all(np.isfinite(lg)), "non-finite logits")
            seq.append(int(np.argmax(lg[-1])))
        return seq
    s1, s2 = greedy(8), greedy(8)
    check(s1 == s2, f"greedy not deterministic: {s1} vs {s2}")
    lg = rm.forward(rm.load_model(d), s1)
    check(np.all(np.isfinite(lg)), "non-finite logits")
    check([int(v) for v in np.argmax(lg[:-1], axis=1)] == s1[1:], "full-sequence argmax != greedy continuation")
    top = np.argsort(-lg[-1])[:5]
    top_s = ", ".join(f"{int(i)}:{lg[-1, i]:.4f}" for i in top)
    return f"{d}: greedy from BOS {s1}; last-position top-5 {top_s}"


TESTS = [
    ("8 loop/hand agreement", test_loop_agreement),
    ("1 causality", test_causality),
    ("2 internlm2 == llama", test_internlm2),
    ("3 qwen2/qwen3", test_qwen),
    ("  mistral sliding window", test_sliding_window),
    ("4 rope scaling", test_rope),
    ("5 tied embeddings", test_tied),
    ("6 sharded loading", test_sharded),
    ("7 bf16/f16 weights", test_half_dtypes),
    ("  errors", test_errors),
    ("  cli", test_cli),
    ("  speed", test_speed),
    ("9 stories260K", test_stories),
]


def main():
    rng = np.random.default_rng(1234)
    t_all = time.perf_counter()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="keel_refsel_") as root:
        for name, fn in TESTS:
            t0 = time.perf_counter()
            try:
                msg = fn(root, rng)
                print(f"[ OK ] {name}: {msg} ({time.perf_counter() - t0:.2f}s)", flush=True)
            except Failure as e:
                failed += 1
                print(f"[FAIL] {name}: {e}", flush=True)
    print(f"{len(TESTS) - failed}/{len(TESTS)} passed in {time.perf_counter() - t_all:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
