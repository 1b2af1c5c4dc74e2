"""End-to-end test of the OpenAI-compatible API with the official `openai` client.

Starts a local cluster (`skipjoin launch CONFIG` when available, else
`skipjoin coordinator` plus one `skipjoin worker` per device), waits for
/health, runs completions and chat (streaming and not, with usage), and checks
that greedy output equals `skipjoin generate` for the same prompt. Every process
runs in its own process group and is killed on teardown. Exits 77 (skipped)
when the worker subcommand or the model is missing.

usage: test_openai_api.py SKIPJOIN_BINARY SOURCE_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

SKIP = 77
BIN = sys.argv[1] if len(sys.argv) > 1 else "skipjoin"
SRC = sys.argv[2] if len(sys.argv) > 2 else "."
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
PORT = 18000 + os.getpid() % 1000
CORS_ORIGIN = "http://e2e.example:3000"  # the one origin the test cluster allows


def has_subcommand(name):
    try:
        out = subprocess.run([BIN, name, "--help"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


class Cluster:
    def __init__(self):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="sj_e2e_")

    def spawn(self, args):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "log"), "a"),
                             text=True, start_new_session=True)
        self.procs.append(p)
        return p

    def start(self):
        config = os.path.join(SRC, "cluster_configs", "local-cpu.yaml")
        sets = ["--set", f"coordinator.http_port={PORT}", "--set", f"coordinator.client_port={PORT + 1}",
                "--set", f"coordinator.worker_port={PORT + 2}", "--set", "replicas.count=1",
                "--set", f"metrics.coordinator_port={PORT + 3}", "--set", f"metrics.worker_port_base={PORT + 4}",
                "--set", f"scheduler.cost_model_dir={os.path.join(self.dir, 'cost_models')}",
                "--set", "model.aliases=[e2e-alias]", "--set", "coordinator.stats_log_interval_s=1",
                "--set", f"coordinator.cors_origins=[{CORS_ORIGIN}]"]
        if MODEL:
            sets += ["--set", f"model.path={MODEL}"]
        if has_subcommand("launch"):
            self.spawn([BIN, "launch", config, "--run-dir", os.path.join(self.dir, "run")] + sets)
        else:
            os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
            self.spawn([BIN, "coordinator", "--config", config] + sets)
            self.spawn([BIN, "worker", "--config", config, "--device", "local:cpu:0"] + sets)
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a cluster process exited; see " + os.path.join(self.dir, "log"))
            time.sleep(0.5)
        raise RuntimeError("cluster not healthy within 300 s")

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


class OpenAiApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import openai
        cls.cluster = Cluster()
        try:
            cls.cluster.start()
        except Exception:
            cls.cluster.stop()
            raise
        cls.client = openai.OpenAI(base_url=f"http://127.0.0.1:{PORT}/v1", api_key="unused", timeout=120)
        cls.model = cls.client.models.list().data[0].id

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_completion_with_usage(self):
        r = self.client.completions.create(model=self.model, prompt="The capital of France is", max_tokens=8,
                                           temperature=0)
        self.assertEqual(len(r.choices), 1)
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertGreater(r.usage.prompt_tokens, 0)
        self.assertLessEqual(r.usage.completion_tokens, 8)

    def test_chat_streaming_with_usage(self):
        stream = self.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": "Say hi"}], max_tokens=8, temperature=0,
            stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        self.assertIsNotNone(chunks[-1].usage)
        self.assertEqual(chunks[-1].choices, [])

    def test_chat_non_streaming(self):
        r = self.client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=6, temperature=0)
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertGreater(r.usage.total_tokens, r.usage.prompt_tokens)

    def test_greedy_matches_generate(self):
        prompt = "Once upon a time"
        r = self.client.completions.create(model=self.model, prompt=prompt, max_tokens=16, temperature=0)
        args = [BIN, "generate", "--prompt", prompt, "--max-tokens", "16", "--temperature", "0"]
        if MODEL:
            args += ["--model", MODEL]
        out = subprocess.run(args, capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(r.choices[0].text, out.stdout.rstrip("\n"))

    def test_streaming_greedy_matches_generate(self):
        prompt = "The three primary colors are"
        stream = self.client.completions.create(model=self.model, prompt=prompt, max_tokens=16, temperature=0,
                                                stream=True)
        text = "".join(c.choices[0].text for c in stream if c.choices)
        args = [BIN, "generate", "--prompt", prompt, "--max-tokens", "16", "--temperature", "0"]
        if MODEL:
            args += ["--model", MODEL]
        out = subprocess.run(args, capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(text, out.stdout.rstrip("\n"))

    def test_32_concurrent_streaming_clients_all_complete(self):
        import concurrent.futures
        import openai

        def one(i):
            # One client per thread, as 32 separate users would have.
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{PORT}/v1", api_key="unused", timeout=300)
            stream = client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": f"Count to {i % 7 + 3}."}],
                max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True})
            text, finish, usage = "", None, None
            for c in stream:
                if c.usage is not None:
                    usage = c.usage
                for ch in c.choices:
                    text += ch.delta.content or ""
                    finish = ch.finish_reason or finish
            return i, text, finish, usage

        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(one, range(32)))
        self.assertEqual(len(results), 32)
        for i, text, finish, usage in results:
            self.assertIn(finish, ("stop", "length"), i)
            self.assertIsNotNone(usage, i)
            self.assertGreater(usage.completion_tokens, 0, i)
        # Batching does not change greedy output: same prompt, same text.
        by_prompt = {}
        for i, text, _, _ in results:
            by_prompt.setdefault(i % 7, set()).add(text)
        for k, texts in by_prompt.items():
            self.assertEqual(len(texts), 1, f"prompt {k} gave different texts under load: {texts}")

    def test_errors(self):
        import openai
        with self.assertRaises(openai.NotFoundError):
            self.client.completions.create(model="no-such-model", prompt="x", max_tokens=2)
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model=self.model, prompt="x", max_tokens=10 ** 7)


    def test_model_aliases_and_omitted_model(self):
        ids = [m.id for m in self.client.models.list().data]
        self.assertEqual(ids, [self.model, "e2e-alias"])
        self.assertEqual(self.client.models.retrieve("e2e-alias").id, "e2e-alias")
        r = self.client.completions.create(model="e2e-alias", prompt="The sea is", max_tokens=4,
                                           temperature=0)
        self.assertEqual(r.model, "e2e-alias")  # the id it was asked under
        plain = self.client.completions.create(model=self.model, prompt="The sea is", max_tokens=4,
                                               temperature=0)
        self.assertEqual(r.choices[0].text, plain.choices[0].text)
        # Without "model": the served one (a raw request; the client always sends it).
        body = json.dumps({"prompt": "The sea is", "max_tokens": 4, "temperature": 0}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/completions", body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        self.assertEqual(out["model"], self.model)
        self.assertEqual(out["choices"][0]["text"], plain.choices[0].text)

    def test_model_retrieve_version_and_request_id(self):
        import openai
        self.assertEqual(self.client.models.retrieve(self.model).id, self.model)
        with self.assertRaises(openai.NotFoundError):
            self.client.models.retrieve("no-such-model")
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/version", timeout=10) as r:
            self.assertIsInstance(json.loads(r.read())["version"], str)
        raw = self.client.completions.with_raw_response.create(
            model=self.model, prompt="x", max_tokens=2, extra_headers={"X-Request-Id": "e2e-42"})
        self.assertEqual(raw.headers.get("x-request-id"), "e2e-42")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v1/completions", timeout=10)
        self.assertEqual(cm.exception.code, 405)
        self.assertEqual(cm.exception.headers.get("Allow"), "POST")

    # --- fields and their effects (request_fields.cc names these tests) -------------

    def tokenize(self, text):
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/tokenize",
                                     data=json.dumps({"prompt": text, "add_special_tokens": False}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["tokens"]

    def complete(self, prompt, max_tokens, **kw):
        return self.client.completions.create(model=self.model, prompt=prompt, max_tokens=max_tokens, **kw)

    def greedy(self, prompt, max_tokens, extra=None):
        body = {"ignore_eos": True}
        body.update(extra or {})
        return self.complete(prompt, max_tokens, temperature=0, extra_body=body).choices[0].text

    def test_seed_n_and_max_tokens(self):
        kw = dict(n=3, seed=123, temperature=1.0, extra_body={"ignore_eos": True})
        a = self.complete("Once upon a time", 6, **kw)
        self.assertEqual(sorted(c.index for c in a.choices), [0, 1, 2])
        self.assertEqual(a.usage.completion_tokens, 18)
        b = self.complete("Once upon a time", 6, **kw)
        self.assertEqual([c.text for c in a.choices], [c.text for c in b.choices])
        kw["seed"] = 124
        c = self.complete("Once upon a time", 6, **kw)
        self.assertNotEqual([x.text for x in a.choices], [x.text for x in c.choices])
        self.assertGreater(len({x.text for x in a.choices}), 1)  # the choices draw differently

    def test_truncation_samplers_narrow_to_greedy(self):
        prompt = "The best way to learn a language is"
        g = self.greedy(prompt, 12)
        for extra in ({"top_k": 1}, {"min_p": 1.0}):
            body = {"ignore_eos": True, **extra}
            r = self.complete(prompt, 12, temperature=1.5, seed=5, extra_body=body)
            self.assertEqual(r.choices[0].text, g, extra)
        r = self.complete(prompt, 12, temperature=1.5, seed=5, top_p=1e-6, extra_body={"ignore_eos": True})
        self.assertEqual(r.choices[0].text, g)
        hot = self.complete(prompt, 12, temperature=1.5, seed=5, extra_body={"ignore_eos": True})
        self.assertNotEqual(hot.choices[0].text, g)

    def test_logit_bias_bans_a_token(self):
        prompt = "The capital of France is"
        first = self.greedy(prompt, 1)
        ids = self.tokenize(first)
        self.assertEqual(len(ids), 1, first)
        banned = self.complete(prompt, 1, temperature=0, logit_bias={str(ids[0]): -100}).choices[0].text
        self.assertNotEqual(banned, first)
        forced_id = self.tokenize(" banana")
        self.assertEqual(len(forced_id), 1)
        forced = self.complete(prompt, 3, temperature=0, logit_bias={str(forced_id[0]): 100},
                               extra_body={"ignore_eos": True}).choices[0].text
        self.assertEqual(forced, " banana" * 3)
        with self.assertRaises(Exception):
            self.complete(prompt, 1, logit_bias={"99999999": 1})

    def tokenize_body(self, body):
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/tokenize", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["tokens"]

    def detokenize(self, ids):
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/detokenize", data=json.dumps({"tokens": ids}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["prompt"]

    def test_truncate_prompt_tokens_keeps_the_last_tokens(self):
        import openai
        prompt = "The quick brown fox jumps over the lazy dog. Once upon a time, in a land far away"
        ids = self.tokenize_body({"prompt": prompt})
        self.assertGreater(len(ids), 8)
        r = self.complete(prompt, 8, temperature=0, extra_body={"ignore_eos": True, "truncate_prompt_tokens": 6})
        self.assertEqual(r.usage.prompt_tokens, 6)
        same = self.complete(ids[-6:], 8, temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual(r.choices[0].text, same.choices[0].text)
        self.assertNotEqual(r.choices[0].text, self.greedy(prompt, 8))
        # Longer than the prompt: nothing is cut.
        r = self.complete(prompt, 2, temperature=0, extra_body={"truncate_prompt_tokens": 1000})
        self.assertEqual(r.usage.prompt_tokens, len(ids))
        # Chat: the templated conversation is cut.
        msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}]
        chat_ids = self.tokenize_body({"messages": msgs})
        c = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=6, temperature=0,
                                                extra_body={"ignore_eos": True, "truncate_prompt_tokens": 10})
        self.assertEqual(c.usage.prompt_tokens, 10)
        same = self.complete(chat_ids[-10:], 6, temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual(c.choices[0].message.content, same.choices[0].text)
        for bad in (0, -1, "3", 10 ** 9):
            with self.assertRaises(openai.BadRequestError, msg=str(bad)) as cm:
                self.complete(prompt, 2, extra_body={"truncate_prompt_tokens": bad})
            self.assertEqual(cm.exception.body.get("param"), "truncate_prompt_tokens", str(bad))

    def test_return_tokens_as_token_ids(self):
        prompt = "The capital of France is"
        plain = self.complete(prompt, 4, temperature=0, logprobs=2, echo=True, extra_body={"ignore_eos": True})
        r = self.complete(prompt, 4, temperature=0, logprobs=2, echo=True,
                          extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
        self.assertEqual(r.choices[0].text, plain.choices[0].text)
        ids = self.tokenize_body({"prompt": prompt})
        tokens = r.choices[0].logprobs.tokens
        self.assertEqual(len(tokens), len(ids) + 4)
        self.assertEqual(tokens[:len(ids)], [f"token_id:{i}" for i in ids])
        out_ids = [int(t[len("token_id:"):]) for t in tokens[len(ids):]]
        self.assertEqual(self.detokenize(out_ids), plain.choices[0].text[len(prompt):])
        for top in r.choices[0].logprobs.top_logprobs[len(ids):]:
            self.assertTrue(top and all(k.startswith("token_id:") for k in top), top)
        self.assertEqual(r.choices[0].logprobs.token_logprobs, plain.choices[0].logprobs.token_logprobs)
        c = self.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0,
            logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
        content = c.choices[0].logprobs.content
        self.assertEqual(len(content), 4)
        for lp in content:
            self.assertRegex(lp.token, r"^token_id:\d+$")
            self.assertEqual(bytes(lp.bytes).decode(), lp.token)
            self.assertTrue(all(t.token.startswith("token_id:") for t in lp.top_logprobs))
        self.assertEqual(self.detokenize([int(lp.token[len("token_id:"):]) for lp in content]),
                         c.choices[0].message.content)

    def output_ids(self, prompt, max_tokens, **kw):
        """The completion's text and its token ids (read from logprobs as token_id:<id>)."""
        extra = {"ignore_eos": True, "return_tokens_as_token_ids": True}
        extra.update(kw.pop("extra_body", {}))
        r = self.complete(prompt, max_tokens, logprobs=0, extra_body=extra, **kw).choices[0]
        return r.text, [int(t[len("token_id:"):]) for t in r.logprobs.tokens]

    def test_allowed_token_ids_narrow_the_choice(self):
        import openai
        prompt = "The capital of France is"
        allowed = [self.tokenize(w) for w in (" banana", " apple")]
        self.assertEqual([len(a) for a in allowed], [1, 1])
        allowed = [a[0] for a in allowed]
        plain, plain_ids = self.output_ids(prompt, 6, temperature=0)
        self.assertFalse(set(plain_ids) <= set(allowed))
        for kw in (dict(temperature=0), dict(temperature=1.0, seed=3)):
            text, ids = self.output_ids(prompt, 6, extra_body={"allowed_token_ids": allowed}, **kw)
            self.assertEqual(len(ids), 6, kw)
            self.assertTrue(set(ids) <= set(allowed), (kw, text, ids))
        # Sampled draws reach both tokens, and stay the same for a seed.
        seen = set()
        for seed in range(8):
            _, ids = self.output_ids(prompt, 6, temperature=1.5, seed=seed, extra_body={"allowed_token_ids": allowed})
            seen |= set(ids)
            self.assertEqual(ids, self.output_ids(prompt, 6, temperature=1.5, seed=seed,
                                                  extra_body={"allowed_token_ids": allowed})[1])
        self.assertEqual(seen, set(allowed))
        # Reported logprobs stay the model's: the first token's matches logit_bias forcing it.
        first = self.complete(prompt, 1, temperature=0, logprobs=0,
                              extra_body={"allowed_token_ids": [allowed[0]]}).choices[0].logprobs.token_logprobs[0]
        forced = self.complete(prompt, 1, temperature=0, logprobs=0,
                               logit_bias={str(allowed[0]): 100}).choices[0].logprobs.token_logprobs[0]
        self.assertAlmostEqual(first, forced, places=4)
        self.assertLess(first, -1.0)
        for bad in ([], [10 ** 7], [-1], "1"):
            with self.assertRaises(openai.BadRequestError, msg=str(bad)) as cm:
                self.complete(prompt, 2, extra_body={"allowed_token_ids": bad})
            self.assertEqual(cm.exception.body.get("param"), "allowed_token_ids", str(bad))

    def test_bad_words_are_not_generated(self):
        import openai
        prompt = "The capital of France is"
        text, ids = self.output_ids(prompt, 8, temperature=0)
        # A one-token word of the greedy output is never generated.
        word = self.detokenize(ids[:1]).strip()
        self.assertTrue(text.startswith(" " + word), (text, word))
        r, r_ids = self.output_ids(prompt, 8, temperature=0, extra_body={"bad_words": [word]})
        self.assertNotEqual(r, text)
        self.assertNotIn(ids[0], r_ids)
        # A multi-token word: its last token is banned only right after the rest.
        word = self.detokenize(ids[:3]).strip()
        banned = self.tokenize(" " + word)
        self.assertGreater(len(banned), 1, (word, banned))
        r, r_ids = self.output_ids(prompt, 8, temperature=0, extra_body={"bad_words": [word]})
        self.assertEqual(r_ids[:len(banned) - 1], ids[:len(banned) - 1], (word, banned, r_ids))
        self.assertNotEqual(r_ids[len(banned) - 1], banned[-1], (word, banned, r_ids))
        # Chat takes them too.
        msgs = [{"role": "user", "content": "What is the capital of France?"}]
        c = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=12, temperature=0)
        self.assertIn("Paris", c.choices[0].message.content)
        c = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=12, temperature=0,
                                                extra_body={"bad_words": ["Paris"]})
        self.assertNotIn("Paris", c.choices[0].message.content)
        for bad in ([""], ["  "], "Paris", [3]):
            with self.assertRaises(openai.BadRequestError, msg=str(bad)) as cm:
                self.complete(prompt, 2, extra_body={"bad_words": bad})
            self.assertEqual(cm.exception.body.get("param"), "bad_words", str(bad))

    def test_continue_final_message_and_generation_prompt(self):
        import openai
        msgs = [{"role": "user", "content": "Name three colours."},
                {"role": "assistant", "content": "Sure! The first colour is"}]
        kw = dict(model=self.model, max_tokens=6, temperature=0, extra_body={"ignore_eos": True})
        # Continuing: the output goes on from the assistant's text, with no end-of-turn in between.
        ids = self.tokenize_body({"messages": msgs[:1]})  # the templated conversation up to the assistant prefix
        cont = self.client.chat.completions.create(
            messages=msgs, **{**kw, "extra_body": {"ignore_eos": True, "add_generation_prompt": False,
                                                   "continue_final_message": True}})
        same = self.complete(ids + self.tokenize(msgs[1]["content"]), 6, temperature=0,
                             extra_body={"ignore_eos": True})
        self.assertEqual(cont.choices[0].message.content, same.choices[0].text)
        self.assertEqual(cont.usage.prompt_tokens, len(ids) + len(self.tokenize(msgs[1]["content"])))
        # Without the generation prompt the prompt ends after the last turn.
        plain = self.client.chat.completions.create(messages=msgs, **kw)
        no_prefix = self.client.chat.completions.create(
            messages=msgs, **{**kw, "extra_body": {"ignore_eos": True, "add_generation_prompt": False}})
        full = self.tokenize_body({"messages": msgs})
        self.assertEqual(plain.usage.prompt_tokens, len(full))
        # The prompt stops before the assistant prefix: a head of the full prompt's tokens.
        self.assertLess(no_prefix.usage.prompt_tokens, len(full))
        same = self.complete(full[:no_prefix.usage.prompt_tokens], 6, temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual(no_prefix.choices[0].message.content, same.choices[0].text)
        self.assertNotEqual(plain.choices[0].message.content, no_prefix.choices[0].message.content)
        for extra in ({"continue_final_message": True},
                      {"continue_final_message": True, "add_generation_prompt": False, "messages": msgs[:1]}):
            body = {"messages": extra.pop("messages", msgs)}
            with self.assertRaises(openai.BadRequestError, msg=str(extra)) as cm:
                self.client.chat.completions.create(model=self.model, max_tokens=2, extra_body=extra, **body)
            self.assertEqual(cm.exception.body.get("param"), "continue_final_message", str(extra))

    def test_stop_token_ids_stop(self):
        prompt = "Once upon a time"
        g = self.greedy(prompt, 12)
        ids = self.tokenize(g)
        self.assertGreater(len(ids), 5)
        r = self.complete(prompt, 12, temperature=0, extra_body={"ignore_eos": True, "stop_token_ids": [ids[4]]})
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertLessEqual(r.usage.completion_tokens, 5)
        self.assertTrue(g.startswith(r.choices[0].text), (g, r.choices[0].text))

    def test_penalties_change_greedy_output(self):
        prompt = "Repeat: the cat, the cat, the cat, the cat,"

        def repeats(extra):
            ids = self.tokenize(self.greedy(prompt, 24, extra))
            return len(ids) - len(set(ids))

        base = repeats({})
        self.assertGreater(base, 4)
        for extra in ({"frequency_penalty": 2.0}, {"presence_penalty": 2.0}, {"repetition_penalty": 1.5}):
            self.assertLess(repeats(extra), base, extra)
        plain = self.greedy(prompt, 24)
        for rp in (1.5, 3.0):
            self.assertNotEqual(self.greedy(prompt, 24, {"repetition_penalty": rp}), plain)
        # A negative frequency penalty favours repeats.
        self.assertGreaterEqual(repeats({"frequency_penalty": -1.0}), base)
        with self.assertRaises(Exception):
            self.complete(prompt, 2, extra_body={"repetition_penalty": 0})

    def test_min_tokens_and_ignore_eos(self):
        msgs = [{"role": "user", "content": "Say hi"}]
        r = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=64, temperature=0)
        self.assertEqual(r.choices[0].finish_reason, "stop")
        natural = r.usage.completion_tokens
        self.assertLess(natural, 40)
        r = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=64, temperature=0,
                                                extra_body={"min_tokens": natural + 5})
        self.assertGreaterEqual(r.usage.completion_tokens, natural + 5)
        r = self.client.chat.completions.create(model=self.model, messages=msgs, max_tokens=natural + 8,
                                                temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, natural + 8)

    def test_stop_strings_and_include_stop_str(self):
        prompt = "Once upon a time"
        g = self.greedy(prompt, 16)
        words = g.split()
        self.assertGreater(len(words), 3, g)
        word = words[2]
        at = g.index(word)
        r = self.complete(prompt, 16, temperature=0, stop=[word], extra_body={"ignore_eos": True})
        self.assertEqual(r.choices[0].text, g[:at])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        r = self.complete(prompt, 16, temperature=0, stop=[word],
                          extra_body={"ignore_eos": True, "include_stop_str_in_output": True})
        self.assertEqual(r.choices[0].text, g[:at + len(word)])

    def test_logprobs_echo_and_text_offsets(self):
        prompt = "The capital of France is"
        stream = self.complete(prompt, 8, temperature=0, logprobs=2, stream=True, extra_body={"ignore_eos": True})
        offsets, tokens, text = [], [], ""
        for c in stream:
            if c.choices and c.choices[0].logprobs:
                offsets += c.choices[0].logprobs.text_offset
                tokens += c.choices[0].logprobs.tokens
                for top in c.choices[0].logprobs.top_logprobs:
                    self.assertEqual(len(top), 2)
            if c.choices:
                text += c.choices[0].text
        self.assertEqual(len(offsets), 8)
        self.assertEqual(offsets[0], 0)
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(len(set(offsets)), 8)  # no chunk restarts at 0
        r = self.complete(prompt, 3, temperature=0, logprobs=1, echo=True, extra_body={"ignore_eos": True})
        lp = r.choices[0].logprobs
        self.assertTrue(r.choices[0].text.startswith(prompt))
        n_prompt = r.usage.prompt_tokens
        self.assertEqual(len(lp.tokens), n_prompt + 3)
        self.assertIsNone(lp.token_logprobs[0])
        self.assertTrue(all(isinstance(x, float) for x in lp.token_logprobs[1:]))
        self.assertEqual(lp.text_offset[n_prompt], len(prompt.encode()))

    def test_chat_max_completion_tokens_and_logprobs(self):
        r = self.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": "Tell me a story"}], max_completion_tokens=3,
            temperature=0, logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True})
        self.assertEqual(r.usage.completion_tokens, 3)
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(len(r.choices[0].logprobs.content), 3)
        for entry in r.choices[0].logprobs.content:
            self.assertEqual(len(entry.top_logprobs), 2)
            self.assertLessEqual(entry.logprob, 0.0)

    def test_structured_outputs_parse_and_validate(self):
        import openai
        import re
        schema = {"type": "object", "additionalProperties": False, "required": ["name", "age"],
                  "properties": {"name": {"type": "string", "maxLength": 16}, "age": {"type": "integer"}}}
        msgs = [{"role": "user", "content": "Give me a person as JSON."}]
        for seed in (1, 2):
            r = self.client.chat.completions.create(
                model=self.model, messages=msgs, max_tokens=120, temperature=1.0, seed=seed,
                response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
            self.assertEqual(r.choices[0].finish_reason, "stop")
            obj = json.loads(r.choices[0].message.content)
            self.assertEqual(sorted(obj), ["age", "name"])
            self.assertIsInstance(obj["age"], int)
            self.assertLessEqual(len(obj["name"]), 16)
        r = self.complete("Is the sky blue? Answer:", 8, temperature=1.0, seed=3,
                          extra_body={"guided_choice": ["yes", "no"]})
        self.assertIn(r.choices[0].text, ("yes", "no"))
        r = self.complete("Call me at", 16, temperature=1.0, seed=4,
                          extra_body={"guided_regex": "[0-9]{3}-[0-9]{4}"})
        self.assertRegex(r.choices[0].text, r"^[0-9]{3}-[0-9]{4}$")
        r = self.complete("Pick a colour:", 8, temperature=1.0, seed=5,
                          extra_body={"structured_outputs": {"choice": ["red", "green"]}})
        self.assertIn(r.choices[0].text, ("red", "green"))
        r = self.complete("A JSON object:", 80, temperature=0, extra_body={"guided_json": schema})
        self.assertEqual(sorted(json.loads(r.choices[0].text)), ["age", "name"])
        with self.assertRaises(openai.BadRequestError) as cm:
            self.complete("x", 4, extra_body={"guided_json": {"type": "object", "patternProperties": {}}})
        self.assertEqual(cm.exception.body.get("param"), "guided_json")
        self.assertIn("patternProperties", cm.exception.body.get("message"))
        # Streamed: the deltas add up to a document the schema accepts.
        stream = self.client.chat.completions.create(
            model=self.model, messages=msgs, max_tokens=120, temperature=0.7, seed=6, stream=True,
            response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})
        text, finish = "", None
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
        self.assertEqual(finish, "stop")
        self.assertEqual(sorted(json.loads(text)), ["age", "name"])
        # JSON mode: any object (this small model rambles, so a seed that ends).
        r = self.client.chat.completions.create(
            model=self.model, messages=msgs, max_tokens=200, temperature=0.7, seed=7,
            response_format={"type": "json_object"})
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertIsInstance(json.loads(r.choices[0].message.content), dict)
        for extra, param in (({"guided_choice": ["a"], "ignore_eos": True}, "ignore_eos"),
                             ({"guided_choice": ["a"], "guided_regex": "a"}, "guided_choice"),
                             ({"guided_regex": "("}, "guided_regex"),
                             ({"guided_choice": []}, "guided_choice")):
            with self.assertRaises(openai.BadRequestError, msg=str(extra)) as cm:
                self.complete("x", 4, extra_body=extra)
            self.assertEqual(cm.exception.body.get("param"), param, str(extra))

    def coordinator_log_line(self, needle, timeout_s=10):
        """The first coordinator log line containing needle, waiting for it."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for name in ("run/coordinator.log", "log"):
                path = os.path.join(self.cluster.dir, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        line = next((l for l in f if needle in l), None)
                    if line is not None:
                        return line
            time.sleep(0.2)
        return None

    def test_request_log_line(self):
        raw = self.client.completions.with_raw_response.create(
            model=self.model, prompt="Hello", max_tokens=2, user="alice-7",
            extra_headers={"X-Request-Id": "log-check-1"})
        self.assertEqual(raw.headers.get("x-request-id"), "log-check-1")
        line = self.coordinator_log_line("request log-check-1 ")
        self.assertIsNotNone(line, "no request log line")
        for part in ('user="alice-7"', "completion_tokens=2", "finish=length", "ttft=", "e2e="):
            self.assertIn(part, line)

    def test_stats_log_line(self):
        # coordinator.stats_log_interval_s=1: a throughput line follows work.
        self.complete("Count to five:", 8)
        line = self.coordinator_log_line("stats: last ")
        self.assertIsNotNone(line, "no stats log line")
        for part in ("steps, computed ", "tok/s, generated ", "finished; running ", "device KV "):
            self.assertIn(part, line)

    def test_batch_prompts_match_single_requests(self):
        import openai
        prompts = ["The capital of France is", "Once upon a time"]
        kw = dict(temperature=0, n=2, extra_body={"ignore_eos": True})
        singles = [self.complete(p, 6, **kw) for p in prompts]
        r = self.complete(prompts, 6, **kw)
        self.assertEqual([c.index for c in r.choices], [0, 1, 2, 3])
        for c in r.choices:
            self.assertEqual(c.text, singles[c.index // 2].choices[0].text, c.index)
            self.assertEqual(c.finish_reason, "length")
        self.assertEqual(r.usage.prompt_tokens, sum(x.usage.prompt_tokens for x in singles))
        self.assertEqual(r.usage.completion_tokens, 24)
        # Streaming: each chunk names its choice.
        texts = ["", "", "", ""]
        for chunk in self.complete(prompts, 6, stream=True, **kw):
            for c in chunk.choices:
                texts[c.index] += c.text
        self.assertEqual(texts, [c.text for c in r.choices])
        # Echo puts each choice's own prompt in front; token-id lists batch the same way.
        e = self.complete(prompts, 2, temperature=0, echo=True)
        self.assertTrue(e.choices[0].text.startswith(prompts[0]))
        self.assertTrue(e.choices[1].text.startswith(prompts[1]))
        ids = [self.tokenize(p) for p in prompts]
        t = self.complete(ids, 6, temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual([c.text for c in t.choices],
                         [self.complete(i, 6, temperature=0, extra_body={"ignore_eos": True}).choices[0].text
                          for i in ids])
        for prompt, param in (([], "prompt"), (["a", ""], "prompt[1]"), ([[1], [-1]], "prompt[1]"),
                              (["a"] * 65, "prompt")):
            with self.assertRaises(openai.BadRequestError) as cm:
                self.complete(prompt, 2)
            self.assertEqual(cm.exception.body.get("param"), param, prompt)

    def test_echo_with_max_tokens_zero_returns_the_prompt(self):
        import openai
        prompt = "The capital of France is"
        r = self.complete(prompt, 0, echo=True, logprobs=1)
        c = r.choices[0]
        self.assertEqual(c.text, prompt)
        self.assertEqual(c.finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, 0)
        self.assertEqual(len(c.logprobs.tokens), r.usage.prompt_tokens)
        self.assertIsNone(c.logprobs.token_logprobs[0])
        # The prompt's logprobs are those an echo with generated tokens reports.
        longer = self.complete(prompt, 2, echo=True, logprobs=1, temperature=0).choices[0].logprobs
        n = r.usage.prompt_tokens
        for a, b in zip(c.logprobs.token_logprobs[1:], longer.token_logprobs[1:n]):
            self.assertAlmostEqual(a, b, places=3)
        text = "".join(ch.choices[0].text for ch in self.complete(prompt, 0, echo=True, stream=True)
                       if ch.choices)
        self.assertEqual(text, prompt)
        batch = self.complete(["a b", "c d"], 0, echo=True)
        self.assertEqual([x.text for x in batch.choices], ["a b", "c d"])
        with self.assertRaises(openai.BadRequestError) as cm:
            self.complete(prompt, 0)
        self.assertEqual(cm.exception.body.get("param"), "max_tokens")

    def test_cors_preflight_and_allowed_origin(self):
        def call(method, path, origin, body=None):
            headers = {"Origin": origin, "Content-Type": "application/json"}
            if method == "OPTIONS":
                headers["Access-Control-Request-Method"] = "POST"
                headers["Access-Control-Request-Headers"] = "authorization, content-type"
            req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body, headers=headers,
                                         method=method)
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers
        status, h = call("OPTIONS", "/v1/completions", CORS_ORIGIN)
        self.assertEqual(status, 204)
        self.assertEqual(h.get("Access-Control-Allow-Origin"), CORS_ORIGIN)
        self.assertIn("POST", h.get("Access-Control-Allow-Methods"))
        allowed = [x.strip().lower() for x in h.get("Access-Control-Allow-Headers").split(",")]
        for name in ("authorization", "content-type", "x-request-id"):
            self.assertIn(name, allowed)
        self.assertGreater(int(h.get("Access-Control-Max-Age")), 0)
        body = json.dumps({"prompt": "Hi", "max_tokens": 2}).encode()
        for stream in (False, True):
            b = json.dumps({"prompt": "Hi", "max_tokens": 2, "stream": stream}).encode()
            status, h = call("POST", "/v1/completions", CORS_ORIGIN, b)
            self.assertEqual(status, 200)
            self.assertEqual(h.get("Access-Control-Allow-Origin"), CORS_ORIGIN)
            self.assertEqual(h.get("Vary"), "Origin")
        status, h = call("POST", "/v1/completions", "http://other.example", body)
        self.assertEqual(status, 200)
        self.assertFalse([k for k in h.keys() if k.lower().startswith("access-control-")])
        status, h = call("OPTIONS", "/v1/completions", "http://other.example")
        self.assertFalse([k for k in h.keys() if k.lower().startswith("access-control-")])

    def test_unknown_and_unsupported_fields_are_400_naming_them(self):
        import openai
        for body, param in (({"frobnicate": 1}, "frobnicate"), ({"best_of": 3}, "best_of"),
                            ({"use_beam_search": True}, "use_beam_search")):
            with self.assertRaises(openai.BadRequestError) as cm:
                self.complete("x", 2, extra_body=body)
            self.assertEqual(cm.exception.body.get("param"), param)
        with self.assertRaises(openai.BadRequestError) as cm:
            self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": "x"}], max_tokens=2,
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
        self.assertEqual(cm.exception.body.get("param"), "tools")


if __name__ == "__main__":
    if not has_subcommand("worker") and not has_subcommand("launch"):
        print("SKIP: `skipjoin worker` / `skipjoin launch` do not exist yet")
        sys.exit(SKIP)
    if not has_subcommand("coordinator"):
        print("SKIP: `skipjoin coordinator` is not wired into the CLI yet")
        sys.exit(SKIP)
    try:
        import openai  # noqa: F401
    except ImportError:
        print("SKIP: the openai package is not installed")
        sys.exit(SKIP)
    unittest.main(argv=sys.argv[:1], verbosity=2)
