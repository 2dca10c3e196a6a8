#!/usr/bin/python3
"""Independent numpy reference forward pass for keel's decoder-only models.

Written from the published HF modeling equations (transformers'
modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_qwen3.py,
modeling_rope_utils.py, masking_utils.py and InternLM2's remote-code
modeling_internlm2.py). numpy only; no torch, no transformers.

CLI:
  /usr/bin/python3 tools/reference_model.py --model DIR --tokens 1,2,3 \\
      --out FILE [--dtype-compute f64|f32]
writes the logits of every position as raw little-endian float32, shape
(n_tokens, vocab_size), row-major.

Module use:
  model = load_model(dir, compute_dtype="f64")
  logits = forward(model, [1, 2, 3])        # np.ndarray (n_tokens, vocab)

See tools/README_reference.md for the semantics chosen where HF is subtle.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

SUPPORTED_ARCHITECTURES = (
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "InternLM2ForCausalLM",
)


class ReferenceModelError(ValueError):
    """A model directory, config or tensor that the reference cannot use."""


# --------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------

_ST_DTYPES = {"F64": ("<f8", 8), "F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2)}


class SafetensorsFile:
    """Lazy reader: 8-byte LE header length, JSON header, then the data section."""

    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        if size < 8:
            raise ReferenceModelError(f"{path}: too small to be a safetensors file ({size} bytes)")
        self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        header_len = int.from_bytes(bytes(self._buf[:8]), "little")
        if 8 + header_len > size:
            raise ReferenceModelError(f"{path}: header length {header_len} exceeds file size {size}")
        try:
            header = json.loads(bytes(self._buf[8:8 + header_len]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ReferenceModelError(f"{path}: bad safetensors JSON header: {e}") from None
        if not isinstance(header, dict):
            raise ReferenceModelError(f"{path}: safetensors header is not a JSON object")
        header.pop("__metadata__", None)
        self._base = 8 + header_len
        data_len = size - self._base
        self.entries = {}
        for name, info in header.items():
            try:
                dtype, shape, (begin, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise ReferenceModelError(f"{path}: malformed header entry for '{name}'") from None
            if dtype not in _ST_DTYPES:
                raise ReferenceModelError(
                    f"{path}: tensor '{name}' has dtype {dtype}; supported: {sorted(_ST_DTYPES)}")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if not (0 <= begin <= end <= data_len) or end - begin != count * _ST_DTYPES[dtype][1]:
                raise ReferenceModelError(
                    f"{path}: tensor '{name}' ({dtype} {shape}) has inconsistent data_offsets "
                    f"[{begin}, {end}] (data section is {data_len} bytes)")
            self.entries[name] = (dtype, tuple(shape), begin, count)

    def load(self, name, out_dtype):
        dtype, shape, begin, count = self.entries[name]
        np_dtype = _ST_DTYPES[dtype][0]
        raw = np.frombuffer(self._buf, dtype=np_dtype, count=count, offset=self._base + begin)
        if dtype == "BF16":
            # bf16 is the top half of an IEEE float32.
            values = (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)
        else:
            values = raw
        return values.astype(out_dtype).reshape(shape)


class TensorStore:
    """All tensors of a model directory: model.safetensors or an indexed set of shards."""

    def __init__(self, model_dir):
        single = os.path.join(model_dir, "model.safetensors")
        index = os.path.join(model_dir, "model.safetensors.index.json")
        self.files = {}
        self.where = {}
        if os.path.isfile(single):
            f = SafetensorsFile(single)
            self.files[single] = f
            self.where = {name: f for name in f.entries}
        elif os.path.isfile(index):
            with open(index, encoding="utf-8") as fh:
                try:
                    weight_map = json.load(fh)["weight_map"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise ReferenceModelError(f"{index}: no 'weight_map' object") from None
            for name, shard in weight_map.items():
                path = os.path.join(model_dir, shard)
                if path not in self.files:
                    if not os.path.isfile(path):
                        raise ReferenceModelError(f"{index}: shard '{shard}' (for '{name}') not found")
                    self.files[path] = SafetensorsFile(path)
                f = self.files[path]
                if name not in f.entries:
                    raise ReferenceModelError(f"{index}: '{name}' is mapped to '{shard}', which lacks it")
                self.where[name] = f
        else:
            raise ReferenceModelError(
                f"{model_dir}: neither model.safetensors nor model.safetensors.index.json found")
        self.used = set()

    def has(self, name):
        return name in self.where

    def get(self, name, shape, dtype):
        if name not in self.where:
            raise ReferenceModelError(f"missing tensor '{name}'")
        f = self.where[name]
        got = f.entries[name][1]
        if tuple(got) != tuple(shape):
            raise ReferenceModelError(
                f"tensor '{name}' has shape {list(got)}, expected {list(shape)} (from config.json)")
        self.used.add(name)
        return f.load(name, dtype)

    def unused(self):
        return sorted(n for n in self.where if n not in self.used)


# --------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------

def _req(cfg, key):
    if key not in cfg or cfg[key] is None:
        raise ReferenceModelError(f"config.json lacks required key '{key}'")
    return cfg[key]


def _rope_config(cfg, arch):
    """(theta, scaling dict, scaling type) from rope_theta/rope_scaling (or rope_parameters)."""
    scaling = cfg.get("rope_scaling")
    theta = cfg.get("rope_theta")
    params = cfg.get("rope_parameters")  # newer transformers: one dict with rope_theta inside
    if isinstance(params, dict):
        if theta is None:
            theta = params.get("rope_theta")
        if not scaling:
            scaling = params
    if theta is None:
        theta = 10000.0
    scaling = dict(scaling) if scaling else {}
    rtype = scaling.get("rope_type") or scaling.get("type") or "default"
    allowed = ("default", "linear", "dynamic") if arch == "InternLM2ForCausalLM" else (
        "default", "linear", "dynamic", "llama3")
    if rtype not in allowed:
        raise ReferenceModelError(f"{arch}: rope scaling type '{rtype}' not supported (supported: {allowed})")
    if rtype != "default":
        if "factor" not in scaling:
            raise ReferenceModelError(f"rope scaling '{rtype}' lacks 'factor'")
        if rtype == "llama3":
            for k in ("low_freq_factor", "high_freq_factor", "original_max_position_embeddings"):
                if k not in scaling:
                    raise ReferenceModelError(f"rope scaling 'llama3' lacks '{k}'")
    return float(theta), scaling, rtype


class Model:
    """Parsed config plus weights, canonical names, in the compute dtype."""

    def __init__(self):
        self.arch = None
        self.dtype = np.float64
        self.layers = []


def _parse_config(cfg):
    archs = cfg.get("architectures") or []
    if not archs:
        raise ReferenceModelError("config.json has no 'architectures'")
    arch = archs[0]
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ReferenceModelError(
            f"unsupported architecture '{arch}' (supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
    m = Model()
    m.arch = arch
    m.config = cfg
    m.hidden = int(_req(cfg, "hidden_size"))
    m.n_layers = int(_req(cfg, "num_hidden_layers"))
    m.n_heads = int(_req(cfg, "num_attention_heads"))
    m.n_kv = int(cfg.get("num_key_value_heads") or m.n_heads)
    m.vocab = int(_req(cfg, "vocab_size"))
    m.inter = int(_req(cfg, "intermediate_size"))
    m.eps = float(cfg.get("rms_norm_eps", 1e-6))
    m.max_pos = int(cfg.get("max_position_embeddings") or 2048)
    head_dim = cfg.get("head_dim") if arch != "InternLM2ForCausalLM" else None
    if head_dim:
        m.head_dim = int(head_dim)
    else:
        if m.hidden % m.n_heads:
            raise ReferenceModelError(f"hidden_size {m.hidden} not divisible by num_attention_heads {m.n_heads}")
        m.head_dim = m.hidden // m.n_heads
    if m.head_dim % 2:
        raise ReferenceModelError(f"head_dim {m.head_dim} must be even for RoPE")
    if m.n_heads % m.n_kv:
        raise ReferenceModelError(f"num_attention_heads {m.n_heads} not divisible by num_key_value_heads {m.n_kv}")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise ReferenceModelError(f"hidden_act '{act}' not supported (only 'silu')")
    m.tie = bool(cfg.get("tie_word_embeddings", False))
    m.rope_theta, m.rope_scaling, m.rope_type = _rope_config(cfg, arch)

    # Which projections carry biases.
    if arch == "LlamaForCausalLM":
        ab = bool(cfg.get("attention_bias", False))
        m.bias_qkv, m.bias_o, m.bias_mlp = ab, ab, bool(cfg.get("mlp_bias", False))
    elif arch == "MistralForCausalLM":
        m.bias_qkv, m.bias_o, m.bias_mlp = False, False, False
    elif arch == "Qwen2ForCausalLM":
        m.bias_qkv, m.bias_o, m.bias_mlp = True, False, False
    elif arch == "Qwen3ForCausalLM":
        ab = bool(cfg.get("attention_bias", False))
        m.bias_qkv, m.bias_o, m.bias_mlp = ab, ab, False
    else:  # InternLM2
        b = bool(cfg.get("bias", True))
        m.bias_qkv, m.bias_o, m.bias_mlp = b, b, False
    m.qk_norm = arch == "Qwen3ForCausalLM"

    # Per-layer sliding window (None = full causal attention).
    window = [None] * m.n_layers
    if arch == "MistralForCausalLM":
        sw = cfg.get("sliding_window")
        if sw is not None:
            window = [int(sw)] * m.n_layers
    elif arch in ("Qwen2ForCausalLM", "Qwen3ForCausalLM"):
        sw = cfg.get("sliding_window")
        if cfg.get("use_sliding_window", False) and sw is not None:
            types = cfg.get("layer_types")
            if types is not None:
                if len(types) != m.n_layers:
                    raise ReferenceModelError(f"layer_types has {len(types)} entries, expected {m.n_layers}")
                window = [int(sw) if t == "sliding_attention" else None for t in types]
            else:
                mwl = int(cfg.get("max_window_layers", 28))
                window = [int(sw) if i >= mwl else None for i in range(m.n_layers)]
    for w in window:
        if w is not None and w < 1:
            raise ReferenceModelError(f"sliding_window must be >= 1, got {w}")
    m.window = window
    return m


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------

_COMPUTE_DTYPES = {"f64": np.float64, "f32": np.float32}


def load_model(model_dir, compute_dtype="f64", warn_unused=True):
    """Reads config.json and the safetensors weights of model_dir."""
    if compute_dtype not in _COMPUTE_DTYPES:
        raise ReferenceModelError(f"compute dtype must be one of {sorted(_COMPUTE_DTYPES)}")
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(cfg_path):
        raise ReferenceModelError(f"{model_dir}: config.json not found")
    with open(cfg_path, encoding="utf-8") as fh:
        try:
            cfg = json.load(fh)
        except json.JSONDecodeError as e:
            raise ReferenceModelError(f"{cfg_path}: {e}") from None
    m = _parse_config(cfg)
    dt = _COMPUTE_DTYPES[compute_dtype]
    m.dtype = dt
    st = TensorStore(model_dir)
    H, D, Hq, Hkv, I, V = m.hidden, m.head_dim, m.n_heads, m.n_kv, m.inter, m.vocab

    if m.arch == "InternLM2ForCausalLM":
        m.embed = st.get("model.tok_embeddings.weight", (V, H), dt)
        m.final_norm = st.get("model.norm.weight", (H,), dt)
        head_name = "output.weight"
        embed_name = "model.tok_embeddings.weight"
        groups = Hq // Hkv
        for i in range(m.n_layers):
            p = f"model.layers.{i}."
            L = {}
            L["attn_norm"] = st.get(p + "attention_norm.weight", (H,), dt)
            L["ffn_norm"] = st.get(p + "ffn_norm.weight", (H,), dt)
            # wqkv rows: (kv_head, [q_0 .. q_{groups-1}, k, v], head_dim).
            wqkv = st.get(p + "attention.wqkv.weight", ((Hq + 2 * Hkv) * D, H), dt)
            g = wqkv.reshape(Hkv, groups + 2, D, H)
            L["wq"] = np.ascontiguousarray(g[:, :groups].reshape(Hq * D, H))
            L["wk"] = np.ascontiguousarray(g[:, groups].reshape(Hkv * D, H))
            L["wv"] = np.ascontiguousarray(g[:, groups + 1].reshape(Hkv * D, H))
            if m.bias_qkv:
                b = st.get(p + "attention.wqkv.bias", ((Hq + 2 * Hkv) * D,), dt).reshape(Hkv, groups + 2, D)
                L["bq"] = b[:, :groups].reshape(Hq * D).copy()
                L["bk"] = b[:, groups].reshape(Hkv * D).copy()
                L["bv"] = b[:, groups + 1].reshape(Hkv * D).copy()
            L["wo"] = st.get(p + "attention.wo.weight", (H, Hq * D), dt)
            if m.bias_o:
                L["bo"] = st.get(p + "attention.wo.bias", (H,), dt)
            L["w_gate"] = st.get(p + "feed_forward.w1.weight", (I, H), dt)
            L["w_up"] = st.get(p + "feed_forward.w3.weight", (I, H), dt)
            L["w_down"] = st.get(p + "feed_forward.w2.weight", (H, I), dt)
            m.layers.append(L)
    else:
        m.embed = st.get("model.embed_tokens.weight", (V, H), dt)
        m.final_norm = st.get("model.norm.weight", (H,), dt)
        head_name = "lm_head.weight"
        embed_name = "model.embed_tokens.weight"
        for i in range(m.n_layers):
            p = f"model.layers.{i}."
            a = p + "self_attn."
            f = p + "mlp."
            L = {}
            L["attn_norm"] = st.get(p + "input_layernorm.weight", (H,), dt)
            L["ffn_norm"] = st.get(p + "post_attention_layernorm.weight", (H,), dt)
            L["wq"] = st.get(a + "q_proj.weight", (Hq * D, H), dt)
            L["wk"] = st.get(a + "k_proj.weight", (Hkv * D, H), dt)
            L["wv"] = st.get(a + "v_proj.weight", (Hkv * D, H), dt)
            L["wo"] = st.get(a + "o_proj.weight", (H, Hq * D), dt)
            if m.bias_qkv:
                L["bq"] = st.get(a + "q_proj.bias", (Hq * D,), dt)
                L["bk"] = st.get(a + "k_proj.bias", (Hkv * D,), dt)
                L["bv"] = st.get(a + "v_proj.bias", (Hkv * D,), dt)
            if m.bias_o:
                L["bo"] = st.get(a + "o_proj.bias", (H,), dt)
            if m.qk_norm:
                L["q_norm"] = st.get(a + "q_norm.weight", (D,), dt)
                L["k_norm"] = st.get(a + "k_norm.weight", (D,), dt)
            L["w_gate"] = st.get(f + "gate_proj.weight", (I, H), dt)
            L["w_up"] = st.get(f + "up_proj.weight", (I, H), dt)
            L["w_down"] = st.get(f + "down_proj.weight", (H, I), dt)
            if m.bias_mlp:
                L["b_gate"] = st.get(f + "gate_proj.bias", (I,), dt)
                L["b_up"] = st.get(f + "up_proj.bias", (I,), dt)
                L["b_down"] = st.get(f + "down_proj.bias", (H,), dt)
            m.layers.append(L)

    if m.tie:
        # HF ties the output projection to the input embedding; a stored head is ignored.
        m.lm_head = m.embed
        if st.has(head_name):
            st.used.add(head_name)
            if warn_unused:
                print(f"reference_model: note: tie_word_embeddings is true; ignoring stored '{head_name}'",
                      file=sys.stderr)
    else:
        if not st.has(head_name):
            raise ReferenceModelError(
                f"missing tensor '{head_name}' (tie_word_embeddings is false; set it true to reuse '{embed_name}')")
        m.lm_head = st.get(head_name, (V, H), dt)

    if warn_unused:
        ignorable = lambda n: n.endswith("rotary_emb.inv_freq")  # noqa: E731  (old HF checkpoints)
        extra = [n for n in st.unused() if not ignorable(n)]
        if extra:
            shown = ", ".join(extra[:8]) + (" ..." if len(extra) > 8 else "")
            print(f"reference_model: warning: {len(extra)} tensor(s) not used by {m.arch}: {shown}",
                  file=sys.stderr)
    return m


# --------------------------------------------------------------------------
# RoPE
# --------------------------------------------------------------------------

def rope_inv_freq(m, seq_len):
    """Inverse frequencies (head_dim/2,) in float64 for a forward over seq_len positions.

    default: theta ** (-2i/d)
    linear:  default / factor                       (same as positions / factor)
    dynamic: when seq_len > max_position_embeddings,
             theta' = theta * (factor*seq_len/max_pos - (factor-1)) ** (d/(d-2));
             seq_len is the total sequence length (max position id + 1).
    llama3:  wavelength-banded: wavelen > orig/low_freq_factor -> /factor;
             wavelen < orig/high_freq_factor -> unchanged; otherwise
             (1-s)*f/factor + s*f with s = (orig/wavelen - low)/(high - low).
    """
    d = m.head_dim
    exponents = np.arange(0, d, 2, dtype=np.float64) / d
    theta = m.rope_theta
    sc = m.rope_scaling
    t = m.rope_type
    if t == "dynamic":
        factor = float(sc["factor"])
        if seq_len > m.max_pos:
            theta = theta * ((factor * seq_len / m.max_pos) - (factor - 1.0)) ** (d / (d - 2.0))
    inv = 1.0 / (theta ** exponents)
    if t == "linear":
        inv = inv / float(sc["factor"])
    elif t == "llama3":
        factor = float(sc["factor"])
        low = float(sc["low_freq_factor"])
        high = float(sc["high_freq_factor"])
        orig = float(sc["original_max_position_embeddings"])
        low_wavelen = orig / low
        high_wavelen = orig / high
        wavelen = 2.0 * math.pi / inv
        scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (orig / wavelen - low) / (high - low)
        smoothed = (1.0 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        inv = np.where(medium, smoothed, scaled)
    return inv


def rope_cos_sin(m, seq_len):
    """cos, sin of shape (seq_len, head_dim), rotate_half layout (frequencies repeated twice)."""
    inv = rope_inv_freq(m, seq_len)
    if m.dtype == np.float64:
        ang = np.arange(seq_len, dtype=np.float64)[:, None] * inv[None, :]
    else:  # as HF does it in a float32 model: float32 inv_freq and positions, float32 product
        ang = np.arange(seq_len, dtype=np.float32)[:, None] * inv.astype(np.float32)[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(m.dtype), np.sin(ang).astype(m.dtype)


def _apply_rope(x, cos, sin):
    """x: (heads, T, D). x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1]."""
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


# --------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------

def _rms_norm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(var + x.dtype.type(eps)) * w


def _silu(x):
    # x * sigmoid(x), sigmoid written with tanh so large |x| cannot overflow.
    half = x.dtype.type(0.5)
    return x * (half * (x.dtype.type(1) + np.tanh(half * x)))


def _linear(x, w, b=None):
    y = x @ w.T
    if b is not None:
        y = y + b
    return y


def attention_mask(seq_len, window):
    """Boolean (T, T): True where query i may attend key j.

    Causal: j <= i. Sliding window (HF masking_utils.sliding_window_overlay):
    additionally j > i - window, i.e. key j is masked when i - j >= window, so a
    query sees itself and the window-1 keys before it (window keys in all).
    """
    i = np.arange(seq_len)[:, None]
    j = np.arange(seq_len)[None, :]
    allowed = j <= i
    if window is not None:
        allowed &= j > i - window
    return allowed


def forward(m, token_ids):
    """Logits (n_tokens, vocab) in the model's compute dtype for one sequence from position 0."""
    ids = np.asarray(list(token_ids), dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0:
        raise ReferenceModelError("token_ids must be a non-empty 1-D sequence")
    bad = ids[(ids < 0) | (ids >= m.vocab)]
    if bad.size:
        raise ReferenceModelError(f"token id {int(bad[0])} out of range [0, {m.vocab})")
    dt = m.dtype
    T = ids.size
    D, Hq, Hkv = m.head_dim, m.n_heads, m.n_kv
    rep = Hq // Hkv
    scale = dt(1.0 / math.sqrt(D))
    cos, sin = rope_cos_sin(m, T)
    masks = {}
    x = m.embed[ids].astype(dt, copy=True)
    for li, L in enumerate(m.layers):
        w = m.window[li]
        if w not in masks:
            masks[w] = attention_mask(T, w)
        allowed = masks[w]

        h = _rms_norm(x, L["attn_norm"], m.eps)
        q = _linear(h, L["wq"], L.get("bq")).reshape(T, Hq, D).transpose(1, 0, 2)
        k = _linear(h, L["wk"], L.get("bk")).reshape(T, Hkv, D).transpose(1, 0, 2)
        v = _linear(h, L["wv"], L.get("bv")).reshape(T, Hkv, D).transpose(1, 0, 2)
        if m.qk_norm:  # Qwen3: per-head RMSNorm over head_dim, before RoPE
            q = _rms_norm(q, L["q_norm"], m.eps)
            k = _rms_norm(k, L["k_norm"], m.eps)
        q = _apply_rope(q, cos, sin)
        k = _apply_rope(k, cos, sin)
        # GQA: query head h uses KV head h // rep.
        qg = q.reshape(Hkv, rep, T, D)
        scores = np.matmul(qg, k[:, None].transpose(0, 1, 3, 2)) * scale  # (Hkv, rep, T, T)
        scores = np.where(allowed, scores, dt(-np.inf))
        scores = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p = p / p.sum(axis=-1, keepdims=True)
        o = np.matmul(p, v[:, None])  # (Hkv, rep, T, D)
        o = o.reshape(Hq, T, D).transpose(1, 0, 2).reshape(T, Hq * D)
        x = x + _linear(o, L["wo"], L.get("bo"))

        h = _rms_norm(x, L["ffn_norm"], m.eps)
        gate = _linear(h, L["w_gate"], L.get("b_gate"))
        up = _linear(h, L["w_up"], L.get("b_up"))
        x = x + _linear(_silu(gate) * up, L["w_down"], L.get("b_down"))

    x = _rms_norm(x, m.final_norm, m.eps)
    return x @ m.lm_head.T


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _parse_tokens(text):
    try:
        ids = [int(t) for t in text.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise ReferenceModelError(f"--tokens must be comma-separated integers, got '{text}'") from None
    if not ids:
        raise ReferenceModelError("--tokens is empty")
    return ids


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference forward pass (logits of every position)")
    ap.add_argument("--model", required=True, help="HF model directory (config.json + safetensors)")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids, e.g. 1,2,3")
    ap.add_argument("--out", required=True, help="output file: raw LE float32, (n_tokens, vocab) row-major")
    ap.add_argument("--dtype-compute", default="f64", choices=sorted(_COMPUTE_DTYPES),
                    help="compute dtype (default f64)")
    args = ap.parse_args(argv)
    try:
        ids = _parse_tokens(args.tokens)
        model = load_model(args.model, args.dtype_compute)
        logits = forward(model, ids)
    except ReferenceModelError as e:
        print(f"reference_model: error: {e}", file=sys.stderr)
        return 2
    logits.astype("<f4").tofile(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
