"""The training loop, on accelerate: mixed precision, gradient accumulation, several GPUs, resumable checkpoints.

output_dir after a run:
    config.json, model.safetensors   the trained ModRWKV (ModRWKV.from_pretrained(output_dir); phase 2's init_from)
    loss_log.jsonl                   one line per optimizer step: step, loss (with train.ctc_weight, also its two
                                     terms answer_loss and ctc_loss), lr, seconds (training time so far)
    eval.json                        the end-of-training scores
    train_config.yaml                the config as parsed
    checkpoints/step-NNNNNNN/        accelerate state (safetensors) + progress.json, every train.save_every steps
    feature_cache/                   with train.feature_cache: disk (unless train.feature_cache_dir names another
                                     folder)
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from modrwkv.multimodal import ModRWKV
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train.build import build_model, set_trainable
from modrwkv.train.config import ConfigError, EvalConfig, TrainConfig
from modrwkv.train.data import load_records
from modrwkv.train.evaluate import evaluate
from modrwkv.train.features import FeatureCache
from modrwkv.train.losses import ForecastLoss, TextLoss, ctc_classes
from modrwkv.train.samples import SeriesSample, TextSample, make_samples, text_batch

LOG_FILE = "loss_log.jsonl"
EVAL_FILE = "eval.json"
CHECKPOINTS = "checkpoints"
PROGRESS_FILE = "progress.json"
TRAIN_RECORDS_EVALUATED = 100  # without an eval section, this many training records are scored (split "train")
DEFAULT_MAX_NEW_TOKENS = EvalConfig.max_new_tokens


@dataclass
class Progress:
    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch: int = 0  # micro-batches of `epoch` done
    seconds: float = 0.0  # training time so far


class EpochBatches(Sampler[list[int]]):
    """Shuffled batches whose order depends only on (seed, epoch): a resumed run sees the order the first run saw.

    `epoch` is set by the loop (not via `set_epoch`, which accelerate's loaders call with their own counters).
    """

    drop_last = False

    def __init__(self, size: int, batch_size: int, seed: int):
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, 0

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        for start in range(0, self.size, self.batch_size):
            yield order[start:start + self.batch_size]

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)


@functools.cache
def _tokenizer() -> RWKVTokenizer:
    return RWKVTokenizer()  # about a second to load: once per process


def train(config: TrainConfig) -> Path:
    """Run one phase as `config` says; returns the output folder (see the module docstring for what it holds)."""
    try:
        trainer = Trainer(config)
        trainer.fit()
        return trainer.finish()
    finally:
        # accelerate keeps one process-wide state (accelerate's own tests reset it this way): without this, a second
        # run in the same process (phase 1 then phase 2 in a notebook) could not change mixed_precision
        AcceleratorState._reset_state()


class Trainer:
    """One phase: `fit()` runs the optimizer steps (resuming when the config says so), `finish()` saves and scores."""

    def __init__(self, config: TrainConfig):
        self.config, opt = config, config.train
        self.out = Path(config.output_dir)
        self.accelerator = Accelerator(mixed_precision=opt.mixed_precision,
                                       gradient_accumulation_steps=opt.gradient_accumulation_steps)
        set_seed(opt.seed)
        self.modality = config.data.modality
        self.model = build_model(config.model, self.modality, config.data.horizon, opt.seed,
                                 getattr(config.data, "context", None))
        trainable = set_trainable(self.model, config)
        self.model.llm.gradient_checkpointing = opt.gradient_checkpointing
        self.tokenizer = _tokenizer()
        records = load_records(config.data)
        # loaded now so that a bad eval file fails before training, not after it
        self.eval_records = load_records(config.eval) if config.eval is not None else records[:TRAIN_RECORDS_EVALUATED]
        samples = make_samples(records, self.tokenizer, self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.accelerator.print(f"{config.phase}: {len(samples)} samples, {sum(p.numel() for p in self.params):,} "
                               f"trainable parameters in {len(trainable)} tensors")

        cache_dir = Path(opt.feature_cache_dir) if opt.feature_cache_dir else self.out / "feature_cache"
        self.cache = FeatureCache(self.model.encoders[self.modality], opt.feature_cache, cache_dir)
        if self.modality == "series":
            loss_fn = ForecastLoss(self.model)
        else:
            answers = [[t for t, a in zip(s.ids, s.answer) if a] for s in samples]
            loss_fn = TextLoss(self.model, self.modality, opt.ctc_weight,
                               ctc_classes(answers) if opt.ctc_weight else None)
        self.sampler = EpochBatches(len(samples), opt.batch_size, opt.seed)
        loader = DataLoader(samples, batch_sampler=self.sampler, collate_fn=list)
        optimizer = torch.optim.AdamW(self.params, lr=opt.lr, betas=tuple(opt.betas), weight_decay=opt.weight_decay)
        self.loss_fn, self.optimizer, self.loader = self.accelerator.prepare(loss_fn, optimizer, loader)
        self.total = opt.max_steps or opt.epochs * math.ceil(len(self.loader) / opt.gradient_accumulation_steps)
        # the learning rate is a function of the step alone: nothing to checkpoint, and a resumed run may change
        # max_steps
        self.schedule = _lr_factor(opt.schedule, opt.warmup_steps, self.total)
        self.progress = Progress()

    def fit(self) -> None:
        self._resume()
        accelerator, opt, progress = self.accelerator, self.config.train, self.progress
        bar = tqdm(total=self.total, initial=progress.step, desc=self.config.phase, unit="step",
                   disable=not accelerator.is_local_main_process)
        started = time.perf_counter() - progress.seconds
        losses = []  # of the micro-batches of the current optimizer step: the loss and its named parts
        while progress.step < self.total:
            self.sampler.epoch = progress.epoch
            batches = accelerator.skip_first_batches(self.loader, progress.batch) if progress.batch else self.loader
            for batch in batches:
                lr = opt.lr * self.schedule(progress.step)
                losses.append(self._micro_step(batch, lr))
                progress.batch += 1
                if not accelerator.sync_gradients:
                    continue
                progress.step += 1
                progress.seconds = time.perf_counter() - started
                loss = self._mean(losses)
                losses = []
                self._log({"step": progress.step, **loss, "lr": lr, "seconds": round(progress.seconds, 3)})
                bar.update(1)
                bar.set_postfix(loss=f"{loss['loss']:.4f}")
                if opt.save_every and progress.step % opt.save_every == 0:
                    self._save_checkpoint()
                if progress.step >= self.total:
                    break
            else:
                progress.epoch, progress.batch = progress.epoch + 1, 0
        bar.close()

    def finish(self) -> Path:
        """Save the trained model into output_dir and write eval.json (on the main process)."""
        accelerator, config = self.accelerator, self.config
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            trained = accelerator.unwrap_model(self.loss_fn).model
            trained.save_pretrained(self.out)
            limit = config.eval.max_new_tokens if config.eval is not None else DEFAULT_MAX_NEW_TOKENS
            scores = evaluate(trained, self.tokenizer, self.eval_records, limit)
            scores = {"split": "eval" if config.eval is not None else "train", "step": self.progress.step, **scores}
            (self.out / EVAL_FILE).write_text(json.dumps(scores, indent=2))
            summary = {k: v for k, v in scores.items() if k != "examples"}
            accelerator.print(f"saved {self.out}; eval: {json.dumps(summary)}")
        accelerator.wait_for_everyone()
        accelerator.end_training()
        return self.out

    def _mean(self, losses: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """The mean of each named loss over the micro-batches of one step and over the processes."""
        return {k: self.accelerator.reduce(torch.stack([m[k] for m in losses]).mean(), "mean").item()
                for k in losses[0]}

    def _micro_step(self, batch: Sequence[TextSample] | Sequence[SeriesSample], lr: float) -> dict[str, torch.Tensor]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.accelerator.accumulate(self.loss_fn):  # the optimizer steps only once per accumulation
            loss = self.loss_fn(**batch_inputs(batch, self.cache, self.model, self.modality, self.accelerator.device))
            self.accelerator.backward(loss)
            if self.accelerator.sync_gradients and self.config.train.grad_clip is not None:
                self.accelerator.clip_grad_norm_(self.params, self.config.train.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad()
        parts = getattr(self.accelerator.unwrap_model(self.loss_fn), "parts", {})
        return {"loss": loss.detach().float(), **parts}

    def _resume(self) -> None:
        folder = _resume_folder(self.config.resume, self.out)
        if folder is not None:
            self.accelerator.load_state(str(folder))
            self.progress = Progress(**json.loads((folder / PROGRESS_FILE).read_text()))
            self.accelerator.print(f"resumed from {folder} at step {self.progress.step}")
        if self.accelerator.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "train_config.yaml").write_text(
                yaml.safe_dump(dataclasses.asdict(self.config), sort_keys=False)
            )
            _trim_log(self.out / LOG_FILE, self.progress.step)

    def _log(self, entry: dict) -> None:
        if self.accelerator.is_main_process:
            with open(self.out / LOG_FILE, "a") as log:
                log.write(json.dumps(entry) + "\n")

    def _save_checkpoint(self) -> None:
        accelerator = self.accelerator
        folder = self.out / CHECKPOINTS / f"step-{self.progress.step:07d}"
        accelerator.save_state(str(folder))  # model, optimizer, RNG states; safetensors
        if accelerator.is_main_process:
            # written last: it marks the checkpoint complete
            (folder / PROGRESS_FILE).write_text(json.dumps(dataclasses.asdict(self.progress)))
            for old in sorted((self.out / CHECKPOINTS).glob("step-*"))[:-self.config.train.keep_checkpoints]:
                shutil.rmtree(old)
        accelerator.wait_for_everyone()


def batch_inputs(
    batch: Sequence[TextSample] | Sequence[SeriesSample], cache: FeatureCache, model: ModRWKV, modality: str,
    device: torch.device,
) -> dict:
    """The keyword arguments of TextLoss / ForecastLoss for a batch of samples."""
    if modality == "series":
        target = torch.stack([s.target for s in batch]).to(device)
        encoder = model.encoders["series"]
        if any(p.requires_grad for p in encoder.parameters()):  # a learning encoder's features change every step
            return {"values": encoder.preprocess([s.media for s in batch])["values"].to(device), "target": target}
        return {"features": torch.stack(cache(batch)).to(device), "target": target}
    features = cache([s for s in batch if s.media is not None])
    lengths = iter(model.adapters[modality].output_length(f.shape[0]) for f in features)
    tensors = text_batch(batch, [next(lengths) if s.media is not None else None for s in batch],
                         model.config.placeholder_id)
    return {**{k: v.to(device) for k, v in tensors.items()}, "features": [f.to(device) for f in features]}


def _lr_factor(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        done = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * done)) if schedule == "cosine" else 1 - done

    return factor


def _resume_folder(resume: str | None, out: Path) -> Path | None:
    """"latest": the newest complete checkpoint in output_dir (none yet: a fresh start); else that folder."""
    if resume is None:
        return None
    if resume == "latest":
        done = sorted(p.parent for p in (out / CHECKPOINTS).glob(f"step-*/{PROGRESS_FILE}"))
        return done[-1] if done else None
    folder = Path(resume)
    if not (folder / PROGRESS_FILE).is_file():
        raise ConfigError(f"resume: {folder} is not a checkpoint of this trainer (no {PROGRESS_FILE})")
    return folder


def _trim_log(log: Path, step: int) -> None:
    """Keep the lines up to `step` (a resumed run rewrites what came after its checkpoint)."""
    if not log.exists():
        return
    kept = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    log.write_text("".join(line + "\n" for line in kept))
