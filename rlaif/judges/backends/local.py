"""In-process transformers judge: batched generation, and choice requests answered from one forward pass.

A choices request needs no decoding: the transport returns the first answer position's top
log-probabilities (the shape vLLM's top-logprobs have), and :mod:`rlaif.rewards.verdicts.choices` reads
P(choice) from them, by the same rule for every backend. On a 135M model that is the interface that
yields a number for nearly every request, and it is ~4x cheaper than generating JSON.

Concurrent ``send`` calls are gathered into micro-batches (up to ``max_batch_size`` requests that
decode the same way), so the engine's concurrency turns into batched forward passes. The transport
holds at most :attr:`LocalTransport.max_in_flight` requests: the rest wait on the engine's semaphore,
where the per-attempt timeout does not run.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from typing import Any

from rlaif.data.models import PACKAGED_MODEL, load_causal_lm, load_tokenizer
from rlaif.judges._prefix import PrefixGroup, shared_prefix_groups
from rlaif.judges._top_logprobs import CHOICE_TOP_LOGPROBS, add_logprob
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TokenLogprob, TransportResult

_LOADING = threading.Lock()

_Pending = tuple[JudgeRequest, "asyncio.Future[TransportResult]"]


class LocalTransport:
    """A transformers causal LM in this process, loaded lazily on first use."""

    def __init__(
        self,
        model: str = PACKAGED_MODEL,
        dtype: str = "float32",
        max_batch_size: int = 16,
        device: str = "auto",
        share_prefix: bool = True,
        min_shared_prefix: int = 16,
    ) -> None:
        self.model_name = model
        self.dtype = dtype
        self.max_batch_size = max_batch_size
        self.device = device
        self.share_prefix = share_prefix
        self.min_shared_prefix = min_shared_prefix
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache_kwarg = "cache"  # the forward's name for the KV cache, read from the model when it loads
        self._pending: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None
        self.computed_tokens = 0  # prompt tokens actually run through the model (shared prefixes once)

    def __getstate__(self) -> dict[str, Any]:
        keys = ("model_name", "dtype", "max_batch_size", "device", "share_prefix", "min_shared_prefix")
        return {k: getattr(self, k) for k in keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def identity(self) -> str:
        return f"local:{self.model_name}"

    @property
    def unavailable_hint(self) -> str:
        """What to check when this judge does not answer (the pre-flight check prints it)."""
        return "check judge.model (a local folder, a hub id available offline, or packaged:...)."

    @property
    def max_in_flight(self) -> int:
        """Requests worth holding at once: the batch running plus the next one. A request that enters
        ``send`` then waits at most one batch before its own, so the engine's per-attempt timeout
        measures about two forward passes, never the whole queue (which waits on the engine's
        semaphore instead)."""
        return 2 * self.max_batch_size

    async def send(self, request: JudgeRequest) -> TransportResult:
        future: asyncio.Future[TransportResult] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def aclose(self) -> None:
        self._model = self._tokenizer = None

    # -- batching ---------------------------------------------------------------------------------

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let every send of the current gather enqueue before the first batch
        while self._pending:
            batch = self._take_batch()
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(self._run, [request for request, _ in batch])
            except Exception as exc:  # a crash in the model is this batch's failure, not the loop's
                for _, future in batch:
                    if not future.done():
                        future.set_exception(PermanentJudgeError(f"local judge failed: {exc}"))
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # the engine may have given up on it (timeout)
                    future.set_result(result)

    def _take_batch(self) -> list[_Pending]:
        live = [(r, f) for r, f in self._pending if not f.done()]
        if not live:
            self._pending = []
            return []
        mode = _decode_mode(live[0][0])
        batch = [item for item in live if _decode_mode(item[0]) == mode][: self.max_batch_size]
        taken = {id(item[1]) for item in batch}
        self._pending = [item for item in live if id(item[1]) not in taken]
        return batch

    # -- model work (runs in a worker thread) -----------------------------------------------------

    def _ensure_loaded(self) -> None:
        # One load at a time in a process (the lock is shared): two judges of a jury loading at once raced
        # in transformers' lazy imports ("cannot import name 'AutoTokenizer'"), and would double peak memory.
        with _LOADING:
            if self._model is None:
                import torch

                device = resolve_device(self.device, torch.cuda.is_available(), torch.cuda.device_count())
                self._tokenizer = load_tokenizer(self.model_name)
                self._model = load_causal_lm(self.model_name, self.dtype).to(device).eval()
                # transformers renamed past_key_values to cache (5.2x: the old name warns on every call); the
                # vLLM extra pins an older 5.x, so the name comes from the model's own signature, once.
                takes_cache = "cache" in inspect.signature(self._model.forward).parameters
                self._cache_kwarg = "cache" if takes_cache else "past_key_values"

    def _run(self, requests: list[JudgeRequest]) -> list[TransportResult]:
        self._ensure_loaded()
        if _scores_choices(requests[0]):
            return self._score_choices(requests)
        return self._generate(requests)

    def _encode(self, requests: list[JudgeRequest]) -> dict[str, Any]:
        """The requests' chat-templated tokens, left-padded into one batch (``input_ids``, ``attention_mask``)."""
        ids, mask = self._padded([self._token_ids(r) for r in requests])
        return {"input_ids": ids, "attention_mask": mask}

    def _score_choices(self, requests: list[JudgeRequest]) -> list[TransportResult]:
        """The first answer position's top log-probabilities of each request, in two batched passes when
        requests share a prefix (the chat header, the criterion, the question): each shared prefix once,
        then every request's own tokens on top of its prefix's KV cache."""
        import torch

        sequences = [self._token_ids(r) for r in requests]
        groups = shared_prefix_groups(sequences, self.min_shared_prefix) if self.share_prefix else []
        with torch.inference_mode():
            if any(g.prefix_len for g in groups):
                logits = self._last_logits_shared(sequences, groups)
            else:
                logits = self._last_logits(sequences)
        results = []
        for row, sequence in zip(torch.log_softmax(logits.float(), dim=-1), sequences, strict=True):
            values, ids = row.topk(CHOICE_TOP_LOGPROBS)
            top: dict[str, float] = {}
            for token_id, value in zip(ids.tolist(), values.tolist(), strict=True):
                add_logprob(top, self._tokenizer.decode([token_id]), value)
            best = self._tokenizer.decode([int(ids[0])])
            first = TokenLogprob(token=best, logprob=float(values[0]), top=top)
            results.append(TransportResult(text=best, token_logprobs=[first], tokens_in=len(sequence), tokens_out=1))
        return results

    def _token_ids(self, request: JudgeRequest) -> list[int]:
        text = self._tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _padded(self, rows: list[list[int]]) -> tuple[Any, Any]:
        """Left-padded ids and mask: every row's last position is its last token."""
        import torch

        width = max(map(len, rows))
        pad = self._tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self._model.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self._model.device)
        return ids, mask

    def _last_logits(self, sequences: list[list[int]]) -> Any:
        """One pass over whole sequences; only the last position goes through the vocabulary projection."""
        ids, mask = self._padded(sequences)
        self.computed_tokens += sum(map(len, sequences))
        return self._model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1, :]

    def _last_logits_shared(self, sequences: list[list[int]], groups: list[PrefixGroup]) -> Any:
        """Pass 1: one row per shared prefix (a request without one is its own prefix, all but its last
        token). Pass 2: each request's remaining tokens, on a copy of its prefix's KV cache."""
        import torch

        owner: dict[int, tuple[int, int]] = {}  # request -> (prefix row, prefix length)
        prefixes: list[list[int]] = []
        for group in groups:
            members = [[i] for i in group.indices] if not group.prefix_len else [list(group.indices)]
            for indices in members:
                length = group.prefix_len or len(sequences[indices[0]]) - 1
                owner.update({i: (len(prefixes), length) for i in indices})
                prefixes.append(sequences[indices[0]][:length])
        prefix_ids, prefix_mask = self._padded(prefixes)
        prefix_pos = (prefix_mask.cumsum(dim=1) - 1).clamp(min=0)
        name = self._cache_kwarg
        prefix_out = self._model(
            input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=prefix_pos, use_cache=True, logits_to_keep=1
        )
        cache = getattr(prefix_out, name)
        rows = torch.tensor([owner[i][0] for i in range(len(sequences))], device=self._model.device)
        cache.batch_select_indices(rows)  # one copy of its prefix's keys and values per request
        suffixes = [seq[owner[i][1] :] for i, seq in enumerate(sequences)]
        suffix_ids, suffix_mask = self._padded(suffixes)
        lengths = torch.tensor([owner[i][1] for i in range(len(sequences))], device=self._model.device)
        positions = (lengths[:, None] + suffix_mask.cumsum(dim=1) - 1).clamp(min=0)
        self.computed_tokens += sum(map(len, prefixes)) + sum(map(len, suffixes))
        return self._model(
            input_ids=suffix_ids,
            attention_mask=torch.cat([prefix_mask[rows], suffix_mask], dim=1),
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{name: cache},
        ).logits[:, -1, :]

    def _generate(self, requests: list[JudgeRequest]) -> list[TransportResult]:
        import torch

        first = requests[0]
        inputs = self._encode(requests)
        sample = first.temperature > 0
        with torch.inference_mode():
            output = self._model.generate(
                **inputs,
                max_new_tokens=first.max_tokens,
                do_sample=sample,
                temperature=first.temperature if sample else None,
                top_p=None,
                top_k=None,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for row in range(len(requests)):
            new_tokens = output[row, prompt_len:]
            new_tokens = new_tokens[new_tokens != self._tokenizer.pad_token_id]
            text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)
            tokens_in = int(inputs["attention_mask"][row].sum())
            results.append(TransportResult(text=text, tokens_in=tokens_in, tokens_out=len(new_tokens)))
        return results


def _scores_choices(request: JudgeRequest) -> bool:
    return request.choices is not None and request.json_schema is None


def resolve_device(device: str, has_cuda: bool, cuda_count: int) -> str:
    """``auto`` as this process's own GPU (``cuda:$LOCAL_RANK``), else ``cpu``; other values unchanged.

    Plain ``"cuda"`` would mean the calling thread's current device, and the judge loads in a worker
    thread, where that is GPU 0 on every rank (accelerate sets the device in the main thread only).
    """
    if device != "auto":
        return device
    if not has_cuda or cuda_count < 1:
        return "cpu"
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0) % cuda_count}"


def _decode_mode(request: JudgeRequest) -> tuple[Any, ...]:
    if _scores_choices(request):
        return ("choices",)
    return ("generate", request.max_tokens, request.temperature)


def local_judge(
    model: str = PACKAGED_MODEL,
    dtype: str = "float32",
    max_batch_size: int = 16,
    device: str = "auto",
    share_prefix: bool = True,
    min_shared_prefix: int = 16,
    policy: dict[str, Any] | None = None,
) -> Judge:
    """An in-process judge (the Hydra ``_target_`` of ``judge=local``); ``device``: auto, cpu, cuda, cuda:1.

    ``auto`` puts each training process's judge on that process's GPU (``LOCAL_RANK``), else on the CPU.
    ``share_prefix``: requests of one batch that share at least ``min_shared_prefix`` leading tokens have
    that prefix computed once (its KV cache reused); the scores are the same to float rounding.
    """
    transport = LocalTransport(
        model=model,
        dtype=dtype,
        max_batch_size=max_batch_size,
        device=device,
        share_prefix=share_prefix,
        min_shared_prefix=min_shared_prefix,
    )
    return Judge(transport, policy)
