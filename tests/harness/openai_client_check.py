# Drives `packbench serve` with the official openai Python client; prints what it got as one JSON object.
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
out = {"openai_version": openai.__version__}

out["models"] = [m.id for m in client.models.list().data]

c = client.completions.create(model=model, prompt="Hello world", max_tokens=6, temperature=0)
out["completion"] = {"text": c.choices[0].text, "finish_reason": c.choices[0].finish_reason,
                     "completion_tokens": c.usage.completion_tokens}

# What lm-eval's local-completions sends for log-likelihood: echo + logprobs.
e = client.completions.create(model=model, prompt=["Hello world", "a b"], max_tokens=0, echo=True,
                              logprobs=1, temperature=0)
out["echo"] = [{"text": ch.text, "tokens": ch.logprobs.tokens, "token_logprobs": ch.logprobs.token_logprobs,
                "top_logprobs": ch.logprobs.top_logprobs} for ch in sorted(e.choices, key=lambda x: x.index)]

s = client.completions.create(model=model, prompt="Hello world", max_tokens=6, temperature=0, stream=True)
out["completion_stream"] = "".join(chunk.choices[0].text for chunk in s if chunk.choices)

msgs = [{"role": "user", "content": "Say hi"}]
ch = client.chat.completions.create(model=model, messages=msgs, max_tokens=6, temperature=0)
out["chat"] = {"content": ch.choices[0].message.content, "role": ch.choices[0].message.role,
               "finish_reason": ch.choices[0].finish_reason}
cs = client.chat.completions.create(model=model, messages=msgs, max_tokens=6, temperature=0, stream=True)
out["chat_stream"] = "".join(chunk.choices[0].delta.content or "" for chunk in cs if chunk.choices)

seeded = [client.completions.create(model=model, prompt="Hello", max_tokens=8, temperature=1.0, seed=7).choices[0].text
          for _ in range(2)]
out["seeded_equal"] = seeded[0] == seeded[1]

errors = {}
for name, kwargs in {
    "too_long": dict(model=model, prompt="x", max_tokens=100000),
    "bad_model": dict(model="no-such-model", prompt="x", max_tokens=1),
    "bad_temperature": dict(model=model, prompt="x", max_tokens=1, temperature=-1),
}.items():
    try:
        client.completions.create(**kwargs)
        errors[name] = None
    except openai.APIStatusError as err:
        errors[name] = {"status": err.status_code, "class": type(err).__name__,
                        "message": err.body.get("message") if isinstance(err.body, dict) else str(err.body)}
out["errors"] = errors
print(json.dumps(out))
