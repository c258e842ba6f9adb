"""A tiny random-weight chat model and tokenizer, built offline for tests of the `transformers` backend.

A 2-layer Qwen2 (hidden size 64, one attention head of size 64, which vLLM's kernels accept) with a byte-level BPE tokenizer trained with `tokenizers` on a few
local sentences, a ChatML chat template, and `<|im_end|>` as end of turn. Saved with
`save_pretrained`, so it loads by path exactly like a real model. Its output is noise, which is the
point: the parsers and rejections downstream must survive it.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEXT = [
    "The train leaves at 9 and arrives at 12, so the trip takes 3 hours.",
    "A farmer has 12 apples and gives away 5; 7 apples are left.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Answer with the final result in \\boxed{} and explain each step.",
    "Question: how many legs do 3 spiders have? Answer: \\boxed{24}",
    "{\"question\": \"What is 2 + 2?\", \"answer\": \"4\", \"level\": 1}",
    "The document says the bridge is 1.5 km long and was opened in 1932.",
] * 20


def build_tiny_model(directory: Path, seed: int = 0) -> Path:
    """Train the tokenizer, initialise the model with `seed`, and save both under `directory`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(TEXT, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        bos_token=None, unk_token=None)
    tokenizer.chat_template = CHAT_TEMPLATE

    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=1024,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
