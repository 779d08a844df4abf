"""An MLServer runtime that serves a declared model's champion and follows its pointer.

The champion is loaded through the registry (`ModelLineup.load_champion`: md5-checked bytes,
skops with the declared trust), never from a path of its own. Every `poll_s` seconds the pointer
is read again; when it names another version, that version is loaded beside the one serving and
then swapped in by one assignment, so a request is scored wholly by one version and says which.
A version that fails to load is logged and tried again on the next read; the old one keeps serving.
Each answered request's rows are captured (capture.py) before its answer, and counted (metrics.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, Parameters, ResponseOutput

from asset_platform.serving import metrics
from asset_platform.serving.capture import CaptureError, TrafficCapture
from asset_platform.serving.rows import SCORES, RequestContract

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

    def same_version(self, pointer: ChampionPointer) -> bool:
        return (pointer.model_asset, pointer.version) == (self.pointer.model_asset, self.pointer.version)


def load_served(lineup: ModelLineup, pointer: ChampionPointer) -> Served:
    """The champion `pointer` names, loaded as everywhere else in the platform."""
    import pandas as pd

    model = lineup.load_champion(pointer)
    # The past bound's anchor, as `lifecycle.past_bound` reads it from the same model version's manifest.
    end = model.extra.get("feature_pipeline", {}).get("holdout_end", "")
    stamp = pd.Timestamp(end) if end else None
    if stamp is not None:
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return Served(pointer, model, stamp)


class ChampionRuntime(MLModel):
    """V2 `infer` for one declared model: contract rows in, one output of scores out, the version named.

    Reads from `parameters.extra`: `declaration` (a ModelDeclaration), `lineup` (its ModelLineup),
    `poll_s` (how often the champion pointer is read), `max_rows` (per request) and `capture` (a started
    TrafficCapture, or None to capture nothing).
    """

    async def load(self) -> bool:
        extra = self.settings.parameters.extra
        self._lineup: ModelLineup = extra["lineup"]
        self._contract = RequestContract(extra["declaration"], int(extra["max_rows"]))
        self._poll_s = float(extra["poll_s"])
        self._capture: TrafficCapture | None = extra.get("capture")
        pointer = await asyncio.to_thread(self._lineup.champion)
        if pointer is None:
            raise NoChampionError(f"model {self.name!r} has no champion yet: train it first")
        self._served = await asyncio.to_thread(load_served, self._lineup, pointer)
        logger.info(f"serving {self.name}: champion {pointer.describe()}")
        self._follower = asyncio.get_running_loop().create_task(self._follow())
        return True

    async def unload(self) -> bool:
        self._follower.cancel()
        return True

    @property
    def served(self) -> Served:
        return self._served

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        from asset_platform.ml.scoring import score_rows

        started = time.perf_counter()
        served = self._served  # read once: the version named below is the version that scored
        version = served.pointer.version
        try:
            rows = self._contract.rows(payload, served.learned_until)
            scores = score_rows(served.model, rows)
            if self._capture is not None:  # answered only once its rows are on disk
                inference_s = time.perf_counter() - started
                await self._capture.record(rows, scores, version, inference_s, payload.id or "")
        except CaptureError as error:
            metrics.refused(self.name, version, 503)
            raise ServiceUnavailable(f"model {self.name!r}: {error}") from error
        except MLServerError as error:
            metrics.refused(self.name, version, error.status_code)
            raise
        except Exception:
            metrics.refused(self.name, version, 500)
            raise
        metrics.answered(self.name, version, len(rows), time.perf_counter() - started)
        return InferenceResponse(
            model_name=self.name,
            model_version=served.pointer.version,
            id=payload.id,
            parameters=Parameters(model_version=served.pointer.version, model_asset=served.pointer.model_asset),
            outputs=[ResponseOutput(name=SCORES, shape=[len(scores)], datatype="FP64", data=scores.tolist())],
        )

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
        if pointer is None or self._served.same_version(pointer):
            return
        served = await asyncio.to_thread(load_served, self._lineup, pointer)
        previous, self._served = self._served.pointer, served
        logger.info(f"{self.name}: now serving {pointer.describe()} (was {previous.describe()}; {pointer.reason})")
