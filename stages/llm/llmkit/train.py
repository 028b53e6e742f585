"""train: a brief full fine-tune of a CausalLM on chat examples with the loss
on the assistant's tokens only (masked next-token cross-entropy), AdamW,
seeded; used to give the rehearsal's tiny checkpoints something to refuse
(stages/llm/make_tiny.py). Not a general trainer: no LoRA, no accumulation,
no mixed precision (JT/SFT with LoRA are part 2 of issue 16).

Example layout: the prompt is the checkpoint's own chat template with the
generation prompt (the same ids the evaluation feeds the model); the target
is what the template adds for the assistant's reply, i.e. the rendering of
[user, assistant] minus the rendering of [user] + generation prompt, cut
after the first end-of-turn token. Loss on target tokens only.

Determinism: on CPU with a fixed thread count the result is a function of
(checkpoint, examples, seed, options): the batch order comes from
random.Random(seed), and nothing else draws random numbers.
"""
import random

import torch
import torch.nn.functional as F

from .errors import KitError


def chat_example(fmt, prompt, answer, eos_ids):
    """(input ids, number of prompt tokens) for one prompt/answer pair;
    fmt is a wo.PromptFormat. KitError when the template's conversation does
    not start with its prompt rendering or the target has no end token."""
    p_text = fmt.render(prompt)
    full = fmt.chat.render(fmt.messages(prompt) + [{"role": "assistant", "content": answer}],
                           add_generation_prompt=False, **fmt.kw)
    if not full.startswith(p_text):
        raise KitError(f"chat template: the conversation for {prompt[:40]!r} does not start "
                       "with its prompt rendering; cannot place the assistant's reply")
    p_ids = list(fmt.tok.encode(p_text, add_special_tokens=False))
    t_ids = list(fmt.tok.encode(full[len(p_text):], add_special_tokens=False))
    cut = next((i for i, t in enumerate(t_ids) if t in eos_ids), None)
    if cut is None:
        raise KitError(f"chat template: the reply to {prompt[:40]!r} has no end-of-turn token "
                       f"(eos ids {sorted(eos_ids)})")
    return p_ids + t_ids[:cut + 1], len(p_ids)


def masked_loss(model, batch, pad_id):
    """Mean cross-entropy over the target tokens of a batch of (ids, n_prompt),
    right-padded (causal attention: trailing pads change nothing before them)."""
    t = max(len(ids) for ids, _ in batch)
    dev = next(model.parameters()).device
    x = torch.full((len(batch), t), int(pad_id), dtype=torch.long)
    m = torch.zeros((len(batch), t), dtype=torch.bool)
    for i, (ids, n_p) in enumerate(batch):
        x[i, :len(ids)] = torch.tensor(ids)
        m[i, n_p:len(ids)] = True
    logits = model(x.to(dev))[:, :-1]
    tgt = x[:, 1:].to(dev)
    mask = m[:, 1:].to(dev)
    return F.cross_entropy(logits[mask], tgt[mask])


def finetune(model, examples, pad_id, steps, seed, lr=3e-3, batch_size=16,
             weight_decay=0.0, warmup=10, log=None):
    """Trains every parameter of model in place for `steps` AdamW steps
    (betas 0.9/0.95, linear warm-up then constant lr) on batches drawn
    without replacement, epoch by epoch, in a seeded order. Returns the
    losses (first and last batch) as floats."""
    if not examples:
        raise KitError("no training examples")
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=weight_decay)
    rng = random.Random(seed)
    order, pos = [], 0
    losses = []
    model.train()
    for step in range(steps):
        batch = []
        while len(batch) < min(batch_size, len(examples)):
            if pos >= len(order):
                order = list(range(len(examples)))
                rng.shuffle(order)
                pos = 0
            batch.append(examples[order[pos]])
            pos += 1
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / max(1, warmup))
        loss = masked_loss(model, batch, pad_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if log and (step % 50 == 0 or step == steps - 1):
            log(step, losses[-1])
    model.eval()
    for p in params:
        p.requires_grad_(False)
    return losses
