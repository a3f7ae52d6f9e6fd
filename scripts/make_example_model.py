"""Regenerate the tiny Hugging Face model directory of ``policies.example/model``.

Real files, as a checkpoint on the Hub would have them, only small: a BPE tokenizer trained
with the ``tokenizers`` library on a few sentences, ``config.json``, ``tokenizer_config.json``
with a ChatML chat template, ``generation_config.json`` and a ``model.safetensors`` whose
header describes the tensors (the data is zeros: no guard reads weights).

    python scripts/make_example_model.py [OUT_DIR]
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

CORPUS = [
    "Thank you for contacting Acme support.",
    "Your order has shipped and will arrive soon.",
    "Please share the order number so we can help.",
    "We are sorry for the trouble with your delivery.",
] * 8
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
HIDDEN = 8


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=120, special_tokens=SPECIAL, show_progress=False))
    tokenizer.save(str(out / "tokenizer.json"))
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    padded = (vocab_size + 15) // 16 * 16  # embeddings are padded to a multiple of 16, as real checkpoints do
    write(out / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": padded,
                                "hidden_size": HIDDEN, "bos_token_id": 1, "eos_token_id": 2, "max_position_embeddings": 4096,
                                "transformers_version": "4.44.2"})
    write(out / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                                          "unk_token": "<unk>", "chat_template": CHAT_TEMPLATE, "model_max_length": 4096})
    write(out / "generation_config.json", {"bos_token_id": 1, "eos_token_id": [2, 4]})
    write_safetensors(out / "model.safetensors", {"model.embed_tokens.weight": [padded, HIDDEN], "lm_head.weight": [padded, HIDDEN]})


def write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 2 * shape[0] * shape[1]
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "policies.example" / "model")
