"""An MLServer runtime that serves a declared model's champion and follows its pointer.

The champion is loaded through the registry (`ModelLineup.load_champion`: md5-checked bytes,
skops with the declared trust), never from a path of its own. Every `poll_s` seconds the pointer
is read again; when it names another version, that version is loaded beside the one serving and
then swapped in by one assignment, so a request is scored wholly by one version and says which.
A version that fails to load is logged and tried again on the next read; the old one keeps serving.
Each answered request's rows are captured (capture.py) before its answer, and counted (metrics.py).
Where the declaration asks for a canary, the challenger in shadow is followed the same way and answers
its share of requests until it is withdrawn (canary.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, Parameters, ResponseOutput

from asset_platform.serving import metrics
from asset_platform.serving.canary import Canary, CanaryPolicy, CanaryRegistry
from asset_platform.serving.capture import CaptureError, TrafficCapture
from asset_platform.serving.compiled_rows import RequestRows
from asset_platform.serving.featurize import RowFeaturizer
from asset_platform.serving.rows import PREDICTED_CLASS, SCORES, RequestContract

if TYPE_CHECKING:
    from asset_platform.ml import TrainedModel
    from asset_platform.registry.models import ModelLineup
    from asset_platform.registry.pointer import ChampionPointer

logger = logging.getLogger("asset_platform.serving")


class NoChampionError(LookupError):
    """The model has no champion to serve yet."""


class ServiceUnavailable(MLServerError):
    """The request's rows could not be captured: 503, not acknowledged; the client may retry."""

    def __init__(self, message: str):
        super().__init__(message, status_code=503)


@dataclass(frozen=True)
class Served:
    """The version answering now: its pointer, its model and the newest event time it learned from."""

    pointer: ChampionPointer
    model: TrainedModel
    learned_until: Any
    featurizer: RowFeaturizer | None = None  # its pipeline compiled for a request's few rows

    def scores(self, rows: RequestRows) -> Any:
        """What `score_rows` gives for `rows`: few rows through the compiled pipeline, the rest through pandas."""
        from asset_platform.ml.families.registry import family
        from asset_platform.ml.scoring import score_rows

        matrix = self.featurizer.matrix(rows.features()) if self.featurizer is not None else None
        if matrix is None:
            return score_rows(self.model, rows.frame())
        return family(self.model.flavor).predict(self.model, matrix)

    def same_version(self, pointer: ChampionPointer) -> bool:
        return (pointer.model_asset, pointer.version) == (self.pointer.model_asset, self.pointer.version)

    @cached_property
    def classes(self) -> list[str]:
        """The model's classes ([] but for a multiclass model), built once per loaded version: every request asks."""
        return self.model.classes

    def answer(self, scores: Any) -> tuple[Any, Any]:
        """(the score captured per row, the answered class per row or None): a multiclass model answers its
        most probable class, with that class's probability as the score; other models their score as it is."""
        classes = self.classes
        if not classes:
            return scores, None
        import numpy as np

        from asset_platform.ml.metrics import predicted_classes  # the batch's predicted class, as stored

        predicted = predicted_classes(scores)
        return scores[np.arange(len(predicted)), predicted], np.asarray(classes, dtype=object)[predicted]

    def outputs(self, scores: Any, answered: Any) -> list[ResponseOutput]:
        """The V2 outputs: the scores, and for a multiclass model each class's probability per row (its classes
        named in the output's parameters, in column order) and the predicted class."""
        if answered is None:
            return [ResponseOutput(name=SCORES, shape=[len(scores)], datatype="FP64", data=scores.tolist())]
        return [
            ResponseOutput(
                name=SCORES,
                shape=list(scores.shape),
                datatype="FP64",
                data=scores.reshape(-1).tolist(),
                parameters=Parameters(classes=self.classes),
            ),
            ResponseOutput(name=PREDICTED_CLASS, shape=[len(answered)], datatype="BYTES", data=answered.tolist()),
        ]


def load_canary(lineup: ModelLineup, version: str) -> Served:
    """The challenger `version`, loaded as a champion is (its pointer says it is a canary)."""
    from asset_platform.registry.pointer import ChampionPointer

    found = lineup.find(version)
    pointer = ChampionPointer(found.asset, found.version, found.manifest.get("flavor", ""), reason="canary")
    return load_served(lineup, pointer)


def load_served(lineup: ModelLineup, pointer: ChampionPointer) -> Served:
    """The champion `pointer` names, loaded as everywhere else in the platform."""
    import pandas as pd

    model = lineup.load_champion(pointer)
    # The past bound's anchor, as `lifecycle.past_bound` reads it from the same model version's manifest.
    end = model.extra.get("feature_pipeline", {}).get("holdout_end", "")
    stamp = pd.Timestamp(end) if end else None
    if stamp is not None:
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return Served(pointer, model, stamp, RowFeaturizer.of(model))


def _freeze_what_is_loaded() -> None:
    """Keep the objects loaded so far out of the cyclic garbage collector's passes, once, at start.

    The server holds some 550k objects once the platform, Dagster, pandas, MLServer and the champion are
    imported and loaded, and every request allocates enough to start a collection often: the full passes
    over them took about a fifth of a busy server's CPU. Frozen (`gc.freeze`, after one collection so no
    garbage is kept), they are never traversed again; what is allocated later, a swapped-in version
    included, is collected as usual.
    """
    gc.collect()
    gc.freeze()


class ChampionRuntime(MLModel):
    """V2 `infer` for one declared model: contract rows in, scores out (and a multiclass model's predicted class),
    the version named.

    Reads from `parameters.extra`: `declaration` (a ModelDeclaration), `lineup` (its ModelLineup),
    `poll_s` (how often the champion pointer is read), `max_rows` (per request), `capture` (a started
    TrafficCapture, or None to capture nothing) and `canary` (a CanaryRegistry, or None: no canary).
    """

    async def load(self) -> bool:
        extra = self.settings.parameters.extra
        self._lineup: ModelLineup = extra["lineup"]
        self._contract = RequestContract(extra["declaration"], int(extra["max_rows"]))
        self._poll_s = float(extra["poll_s"])
        self._capture: TrafficCapture | None = extra.get("capture")
        self._canaries: CanaryRegistry | None = extra.get("canary")
        self._policy = CanaryPolicy.of(extra["declaration"].serving)
        self._id_column = extra["declaration"].id_column
        self._canary: tuple[Canary, Served] | None = None
        self._withdrawn: set[str] = set()  # withdrawn here, until the champion's record says so
        self._tasks: set[asyncio.Task] = set()
        pointer = await asyncio.to_thread(self._lineup.champion)
        if pointer is None:
            raise NoChampionError(f"model {self.name!r} has no champion yet: train it first")
        self._served = await asyncio.to_thread(load_served, self._lineup, pointer)
        logger.info(f"serving {self.name}: champion {pointer.describe()}")
        _freeze_what_is_loaded()
        if self._canaries is not None and self._policy.fraction > 0:
            try:
                await self._refresh_canary()
            except Exception as error:  # the champion serves; the follower tries the canary again
                logger.error(f"{self.name}: the canary could not be read or loaded ({error})")
        self._follower = asyncio.get_running_loop().create_task(self._follow())
        return True

    async def unload(self) -> bool:
        self._follower.cancel()
        return True

    @property
    def served(self) -> Served:
        return self._served

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        started = time.perf_counter()
        served = self._served  # read once: the version named below is the version that scored
        canary = self._canary
        version = served.pointer.version
        try:
            rows = self._contract.judge(payload, served.learned_until)
            if canary is not None and canary[0].champion_version == version and canary[0].takes(self._first_id(rows)):
                served, scores = self._score_canary(canary, served, rows)
            else:
                canary = None
                scores = self._score(served, rows)
            version = served.pointer.version
            captured, answered = served.answer(scores)
            if self._capture is not None:  # answered only once its rows are on disk
                inference_s = time.perf_counter() - started
                await self._capture.record(rows, captured, version, inference_s, payload.id or "", answered)
        except CaptureError as error:
            metrics.refused(self.name, version, 503)
            raise ServiceUnavailable(f"model {self.name!r}: {error}") from error
        except MLServerError as error:
            metrics.refused(self.name, version, error.status_code)
            raise
        except Exception:
            metrics.refused(self.name, version, 500)
            raise
        elapsed = time.perf_counter() - started
        metrics.answered(self.name, version, len(rows), elapsed)
        self._tally(canary, served, elapsed)
        return InferenceResponse(
            model_name=self.name,
            model_version=version,
            id=payload.id,
            parameters=Parameters(
                model_version=version,
                model_asset=served.pointer.model_asset,
                role="canary" if canary is not None and served is canary[1] else "champion",
            ),
            outputs=served.outputs(scores, answered),
        )

    def _first_id(self, rows: RequestRows) -> Any:
        return rows.first(self._id_column)

    def _score(self, served: Served, rows: Any) -> Any:
        try:
            return served.scores(rows)
        except Exception:
            if self._canary is not None and self._canary[0].champion_version == served.pointer.version:
                self._canary[0].champion.failed()
            raise

    def _score_canary(self, canary: tuple[Canary, Served], champion: Served, rows: Any) -> tuple[Served, Any]:
        """The canary's scores; where it fails, the champion's (the failure counted against the canary)."""
        judged, challenger = canary
        try:
            return challenger, challenger.scores(rows)
        except Exception as error:
            logger.warning(f"{self.name}: canary {judged.version[:12]} failed a request ({error}); champion answers")
            metrics.canary_failed(self.name, judged.version)
            judged.canary.failed()
            self._judge(judged)
            return champion, champion.scores(rows)

    def _tally(self, canary: tuple[Canary, Served] | None, served: Served, elapsed: float) -> None:
        """Count an answered request against the version it was assigned to, then judge the canary."""
        current = self._canary
        if current is None or current[0].champion_version != self._served.pointer.version:
            return
        judged = current[0]
        if canary is None:
            if served.pointer.version == judged.champion_version:
                judged.champion.answered(elapsed)
        elif canary[0] is judged and served is canary[1]:
            judged.canary.answered(elapsed)
        self._judge(judged)

    def _judge(self, judged: Canary) -> None:
        if self._canary is None or self._canary[0] is not judged:
            return
        reason = judged.verdict()
        if reason is None:
            return
        self._canary = None  # from the next request on, all traffic is the champion's
        self._withdrawn.add(judged.version)
        metrics.canary(self.name, judged.version, 0.0)
        logger.warning(
            f"{self.name}: canary {judged.version[:12]} withdrawn, champion {judged.champion_version[:12]} answers "
            f"every request: {reason}"
        )
        if self._canaries is not None:
            task = asyncio.get_running_loop().create_task(
                asyncio.to_thread(self._canaries.withdraw, self.name, judged, reason)
            )
            self._tasks.add(task)
            task.add_done_callback(partial(self._recorded, judged.version))

    def _recorded(self, version: str, task: asyncio.Task) -> None:
        """Once the withdrawal is on the champion's record, that record keeps the canary off (canary.py)."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is None and task.result():
            self._withdrawn.discard(version)

    async def _follow(self) -> None:
        """Read the champion pointer every `poll_s` seconds; load and swap in a new version."""
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self._refresh()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a lost object, a half-written catalog: keep serving, try again
                logger.error(
                    f"{self.name}: the champion could not be read or loaded ({error}); still serving "
                    f"{self._served.pointer.describe()}, trying again in {self._poll_s:g}s"
                )

    async def _refresh(self) -> None:
        pointer = await asyncio.to_thread(self._lineup.champion)
        if pointer is not None and not self._served.same_version(pointer):
            served = await asyncio.to_thread(load_served, self._lineup, pointer)
            previous, self._served = self._served.pointer, served
            logger.info(f"{self.name}: now serving {pointer.describe()} (was {previous.describe()}; {pointer.reason})")
        if self._canaries is not None and self._policy.fraction > 0:
            await self._refresh_canary()

    async def _refresh_canary(self) -> None:
        """Follow the challenger in shadow: start, change or end the canary beside the champion serving."""
        version = await asyncio.to_thread(self._canaries.challenger)
        champion = self._served.pointer.version
        current = self._canary
        if version is None or version == champion or version in self._withdrawn:
            if current is not None:
                self._canary = None
                metrics.canary(self.name, current[0].version, 0.0)
                logger.info(f"{self.name}: canary {current[0].version[:12]} ended (no longer in shadow)")
            return
        if current is not None and (current[0].version, current[0].champion_version) == (version, champion):
            return
        challenger = await asyncio.to_thread(load_canary, self._lineup, version)
        if self._served.pointer.version != champion:
            return  # the champion changed while the canary loaded: the next read starts it afresh
        self._canary = (Canary(version, champion, self._policy), challenger)
        metrics.canary(self.name, version, self._policy.fraction)
        logger.info(
            f"{self.name}: canary {challenger.pointer.describe()} answers {self._policy.fraction:.0%} of requests "
            f"beside champion {self._served.pointer.describe()}"
        )
