#!/usr/bin/python3
"""Reference token ids from the real libsentencepiece (Debian's python3-sentencepiece).

Usage: spm_reference.py MODEL TEXTS_JSONL OUT_JSONL

Each line of TEXTS_JSONL is one JSON string. For each, OUT_JSONL gets one line:
the JSON array of ids from SentencePieceProcessor.encode(text) (no bos/eos).
Exit status 2 if the sentencepiece module is missing, so callers can skip.
"""
import json
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        import sentencepiece
    except ImportError:
        print("python3-sentencepiece is not installed", file=sys.stderr)
        return 2
    model, texts_path, out_path = sys.argv[1:]
    sp = sentencepiece.SentencePieceProcessor(model_file=model)
    with open(texts_path, encoding="utf-8") as texts, open(out_path, "w") as out:
        for line in texts:
            ids = sp.encode(json.loads(line))
            out.write(json.dumps(ids))
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
