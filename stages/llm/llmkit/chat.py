"""Chat templates: a checkpoint's own Jinja template (tokenizer_config.json's
`chat_template`, or chat_template.jinja beside it, which takes precedence as
in transformers) rendered the way transformers' apply_chat_template renders
it (transformers/utils/chat_template_utils.py): python3-jinja2's
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
loopcontrols extension, a `{% generation %}` block that just renders its
body, the `tojson` filter redefined as json.dumps(x, ensure_ascii=False,
indent, separators, sort_keys), and the globals raise_exception(msg) and
strftime_now(fmt). The template sees messages, tools (None), documents
(None), add_generation_prompt, the tokenizer's named special tokens
(bos_token, eos_token, pad_token, unk_token, additional_special_tokens, as
strings) and any keyword the caller passes (e.g. enable_thinking=False for
Qwen3, date_string for Llama 3.1: without it that template calls
strftime_now, which makes the prompt depend on the day).

Checked against @huggingface/jinja on the real Llama-3.1 and Qwen3 templates
(tests/llm/t0210-chat.sh).
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import KitError


class _Generation(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}`: transformers marks assistant
    tokens with it (for return_assistant_tokens_mask); here it renders its
    body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


def make_environment():
    """The sandboxed environment transformers compiles chat templates in."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def _token_content(value):
    return value.get("content") if isinstance(value, dict) else value


def special_tokens_map(tokenizer_config):
    """The named special tokens a template may use, as strings (unset ones
    are left out, as transformers' special_tokens_map does)."""
    out = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = _token_content(tokenizer_config.get(k))
        if v is not None:
            out[k] = v
    extra = tokenizer_config.get("additional_special_tokens")
    if extra:
        out["additional_special_tokens"] = [_token_content(x) for x in extra]
    return out


class ChatTemplate:
    """A compiled chat template with the tokenizer's special tokens.

    render(messages: list[{role, content, ...}], add_generation_prompt=True,
           **kw) -> str. Raises KitError for template errors
    (raise_exception included), naming the template's source."""

    def __init__(self, source_text, special_tokens=None, source="chat_template"):
        if not isinstance(source_text, str) or not source_text:
            raise KitError(f"{source}: no chat template")
        self.source = source
        self.text = source_text
        self.special_tokens = dict(special_tokens or {})
        try:
            self.template = make_environment().from_string(source_text)
        except jinja2.exceptions.TemplateSyntaxError as e:
            raise KitError(f"{source}: line {e.lineno}: {e.message}") from None

    @classmethod
    def from_config(cls, tokenizer_config, source="tokenizer_config.json", name=None, template_text=None):
        """From a tokenizer_config dict. `chat_template` may be a string or a
        list of {name, template} (then `name`, default 'default', picks one);
        template_text, when given, replaces it (chat_template.jinja)."""
        if not isinstance(tokenizer_config, dict):
            raise KitError(f"{source}: not a JSON object")
        text = template_text
        where = source
        if text is None:
            text = tokenizer_config.get("chat_template")
            where = f"{source}: chat_template"
            if isinstance(text, list):
                want = name or "default"
                found = [t.get("template") for t in text if isinstance(t, dict) and t.get("name") == want]
                if not found:
                    raise KitError(f"{where}: no template named {want!r}")
                text = found[0]
            if text is None:
                raise KitError(f"{where}: missing (the checkpoint has no chat template)")
        return cls(text, special_tokens_map(tokenizer_config), source=where)

    @classmethod
    def from_dir(cls, path, name=None):
        """From DIR/tokenizer_config.json, with DIR/chat_template.jinja
        taking precedence when it exists."""
        cfg_path = os.path.join(path, "tokenizer_config.json")
        try:
            with open(cfg_path, encoding="utf-8") as f:
                cfg = json.load(f)
        except FileNotFoundError:
            raise KitError(f"{cfg_path}: tokenizer config not found") from None
        except json.JSONDecodeError as e:
            raise KitError(f"{cfg_path}: line {e.lineno} column {e.colno}: {e.msg}") from None
        jinja_path = os.path.join(path, "chat_template.jinja")
        if os.path.exists(jinja_path):
            try:
                with open(jinja_path, encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError) as e:
                raise KitError(f"{jinja_path}: cannot read: {e}") from None
            return cls.from_config(cfg, source=jinja_path, template_text=text)
        return cls.from_config(cfg, source=cfg_path, name=name)

    def render(self, messages, add_generation_prompt=True, **kw):
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise KitError("render: messages must be a list of {role, content} objects")
        ctx = {"tools": None, "documents": None}
        ctx.update(self.special_tokens)
        ctx.update(kw)
        try:
            return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt, **ctx)
        except jinja2.exceptions.TemplateError as e:
            raise KitError(f"{self.source}: {e}") from None
