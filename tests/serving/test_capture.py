"""Served rows as production batches, in process: durable before the answer, sealed by rows or minutes,
landed as a dataset folder the landing takes and the contract passes, and recovered once after a kill."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from asset_platform.dataset_folders import part_files
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract import contract_schema, normalize_times
from asset_platform.declaration.errors import DeclarationError
from asset_platform.landing import ModelLanding, read_table
from asset_platform.serving.capture import (
    SERVED_REQUEST,
    SERVED_SCORE,
    SERVED_VERSION,
    CaptureError,
    CaptureFolderInUse,
    CaptureSettings,
    TrafficCapture,
)
from asset_platform.validation.checks import check_against_schema
from tests.declaration.loans import generate_loans, loans_declaration
from tests.processes import run_coroutine, wait_for

MODEL, ID = "loans", "loan_id"
WAIT_LIMIT_S = 30  # liveness only


def _settings(root: Path, **changes) -> CaptureSettings:
    options = {"batch_rows": 1000, "batch_minutes": 600.0, **changes}
    return CaptureSettings(MODEL, ID, root / "served", root / "production", **options)


def _rows(count: int, seed: int) -> pd.DataFrame:
    return generate_loans(count, dt.date(2026, 7, 4), seed=seed).drop(columns=["defaulted"])


async def _record(capture: TrafficCapture, rows: pd.DataFrame, request: str, version: str = "v1") -> None:
    await capture.record(rows, [0.5] * len(rows), version, 0.002, request)


def _landed(production: Path) -> list[Path]:
    return sorted(path for path in production.glob(f"{MODEL}-served-*.parquet") if path.is_dir())


def _landing(root: Path) -> ModelLanding:
    declaration = loans_declaration()
    return ModelLanding(
        model=MODEL,
        folder=root,
        history=root / "history",
        production=root / "production",
        labels=root / "labels",
        pattern="*.parquet",
        id_column=ID,
        label_column="defaulted",
        declaration=declaration,
    )


def test_a_batch_sealed_by_rows_is_a_batch_the_landing_takes_and_the_contract_passes(tmp_path) -> None:
    settings = _settings(tmp_path, batch_rows=5)
    first, second = _rows(3, seed=1), _rows(3, seed=2)

    async def serve() -> None:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        await _record(capture, first, "r1")
        assert list(settings.folder.glob("part-*.parquet")), "answered before its rows were on disk"
        assert _landed(settings.production) == []
        await _record(capture, second, "r2")
        sealed = "a batch of 5 rows sealed"
        await asyncio.to_thread(wait_for, lambda: _landed(settings.production), WAIT_LIMIT_S, sealed, None, 0.02)
        await capture.close()

    run_coroutine(serve())
    [batch] = _landed(settings.production)
    assert (batch / "_SUCCESS").is_file() and len(part_files(batch)) == 1
    assert not list(settings.folder.glob("part-*")), "sealed parts are deleted"
    landing = _landing(tmp_path)
    assert landing.production_batches().files == [batch]
    frame = landing.read_batch(batch.stem)
    assert sorted(frame[ID]) == sorted([*first[ID], *second[ID]])
    assert set(frame[SERVED_REQUEST]) == {"r1", "r2"} and set(frame[SERVED_VERSION]) == {"v1"}
    assert frame[SERVED_SCORE].tolist() == [0.5] * 6
    # The extra columns pass the contract a production batch meets, also a strict one that refuses others.
    declaration = loans_declaration()
    assert check_against_schema(normalize_times(frame, declaration), contract_schema(declaration, False)).passed
    strict = declaration.model_copy(update={"columns": None, "schema_class": f"{__name__}:StrictLoans"})
    assert check_against_schema(normalize_times(frame, strict), contract_schema(strict, False)).passed
    assert not check_against_schema(frame.assign(colour="red"), contract_schema(strict, False)).passed


class StrictLoans(pa.DataFrameModel):
    """The loans contract as a user's strict pandera class: unknown columns are refused."""

    loan_id: str = pa.Field(unique=True)
    applied_at: pd.DatetimeTZDtype(unit="ns", tz="UTC")
    income: float = pa.Field(nullable=True)
    amount: float
    term_months: int
    age: int
    employment: str
    purpose: str
    region: str

    class Config:
        strict = True
        coerce = True


def test_a_batch_is_sealed_by_minutes_and_on_close(tmp_path) -> None:
    settings = _settings(tmp_path, batch_minutes=0.005)  # 0.3 s

    async def serve() -> None:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        await _record(capture, _rows(2, seed=1), "r1")
        one = lambda: len(_landed(settings.production)) == 1  # noqa: E731
        await asyncio.to_thread(wait_for, one, WAIT_LIMIT_S, "sealed by age", None, 0.02)
        await _record(capture, _rows(2, seed=2), "r2")
        await capture.close()  # what is left is sealed on the way out

    run_coroutine(serve())
    assert [len(read_table(path, "batch")) for path in _landed(settings.production)] == [2, 2]


def test_an_id_answered_twice_in_a_batch_keeps_its_last_answer(tmp_path) -> None:
    settings = _settings(tmp_path)
    rows = _rows(3, seed=1)

    async def serve() -> None:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        await _record(capture, rows, "first", version="v1")
        await _record(capture, rows.head(1), "retry", version="v2")
        await capture.close()

    run_coroutine(serve())
    [batch] = _landed(settings.production)
    frame = read_table(batch, "batch").set_index(ID)
    assert frame.index.is_unique and len(frame) == 3
    assert frame.loc[rows[ID].iloc[0], SERVED_REQUEST] == "retry"


def test_a_start_after_a_kill_lands_every_acknowledged_row_once(tmp_path) -> None:
    settings = _settings(tmp_path)
    acknowledged = [_rows(2, seed=seed) for seed in range(4)]

    async def killed() -> None:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        for index, rows in enumerate(acknowledged):
            await _record(capture, rows, f"r{index}")
        capture._lock_handle.close()  # the process dies: no close, its lock goes with it

    run_coroutine(killed())
    folder = settings.folder
    parts = sorted(path.name for path in folder.glob("part-*.parquet"))
    # What a kill may leave besides: a part never renamed (its request never answered), an unsealed staging
    # folder, and a sealed folder not landed whose first sources were already deleted.
    (folder / ".part-99.parquet.tmp").write_bytes(b"half")
    (folder / ".seal-x.parquet").mkdir()
    sealed = folder / f"{MODEL}-served-20260704T000000.000000Z.parquet"
    sealed.mkdir()
    pd.concat(acknowledged[:2]).to_parquet(sealed / "part-00000.parquet")
    (sealed / "_sources").write_text(json.dumps(parts[:2]))
    (sealed / "_SUCCESS").write_text("")
    (folder / parts[0]).unlink()

    again = TrafficCapture(settings)
    landed = again.open()
    assert len(landed) == 2 and sorted(landed) == _landed(settings.production)
    assert sorted(path.name for path in folder.iterdir()) == [".lock"]
    ids = pd.concat([read_table(path, "batch") for path in landed])[ID]
    assert ids.is_unique and sorted(ids) == sorted(pd.concat(acknowledged)[ID])
    with pytest.raises(CaptureFolderInUse, match="give each server its own --capture-dir"):
        TrafficCapture(settings).open()
    again._lock_handle.close()


def test_settings_name_the_option_to_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match="--batch-rows must be at least 1"):
        _settings(tmp_path, batch_rows=0)
    with pytest.raises(ValueError, match="landing pattern '\\*.csv'"):
        _settings(tmp_path, pattern="*.csv")


def test_a_declaration_may_not_name_a_column_as_capture_does() -> None:
    fields = loans_declaration().model_dump()
    fields["columns"].append({"name": SERVED_SCORE, "dtype": "float"})
    with pytest.raises(DeclarationError, match="'_served_score': reserved for what serve-model captures"):
        ModelDeclaration.model_validate(fields)


def test_rows_that_cannot_be_written_are_refused_never_acknowledged(tmp_path) -> None:
    settings = _settings(tmp_path, buffer_rows=4)

    async def serve() -> list[str]:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        refused = []
        with pytest.raises(CaptureError, match="at most 4"):  # more than the buffer holds
            await _record(capture, _rows(5, seed=1), "too-many")
        await _record(capture, _rows(2, seed=2), "written")
        (tmp_path / "gone").mkdir()
        settings.folder.rename(tmp_path / "gone" / "served")  # the disk lost: the write fails
        try:
            await _record(capture, _rows(2, seed=3), "lost")
        except CaptureError as error:
            refused.append(str(error))
        (tmp_path / "gone" / "served").rename(settings.folder)
        await capture.close()
        return refused

    [refused] = run_coroutine(serve())
    assert "could not be written" in refused
    [batch] = _landed(settings.production)
    assert set(read_table(batch, "batch")[SERVED_REQUEST]) == {"written"}


def test_requests_judged_either_way_land_in_one_batch_in_the_order_answered(tmp_path) -> None:
    """The buffer holds each request as judged (compiled columns, a validated frame, a plain frame); the writer
    joins them into one part: every row once, its own score and request, types the contract passes."""
    from mlserver.types import InferenceRequest

    from asset_platform.serving.compiled_rows import FAST_ROWS
    from asset_platform.serving.rows import RequestContract
    from tests.serving.client import v2_inputs

    settings = _settings(tmp_path)
    contract = RequestContract(loans_declaration(), 2 * FAST_ROWS)
    small, large, plain = _rows(2, seed=1), _rows(FAST_ROWS + 6, seed=2), _rows(3, seed=3)
    small["income"] = float("nan")  # a column all missing in one request (sent as null), a number in others
    judged = [contract.judge(InferenceRequest.model_validate({"inputs": v2_inputs(rows)})) for rows in (small, large)]
    assert judged[0].columns is not None and judged[1].columns is None  # compiled, then the frame path
    sent = [(judged[0], "small"), (judged[1], "large"), (plain, "plain"), (judged[0], "small-again")]

    async def serve() -> None:
        capture = TrafficCapture(settings)
        capture.open()
        await capture.start()
        # Recorded together: one group commit, one part.
        await asyncio.gather(
            *(
                capture.record(rows, [index / 10] * len(rows), "v1", 0.002, name)
                for index, (rows, name) in enumerate(sent)
            )
        )
        assert len(list(settings.folder.glob("part-*.parquet"))) == 1
        await capture.close()

    run_coroutine(serve())
    [batch] = _landed(settings.production)
    frame = read_table(batch, "batch")
    # small-again repeats small's ids: the last answer of each is kept, in the order answered.
    expected = [*large[ID], *plain[ID], *small[ID]]
    assert frame[ID].tolist() == expected
    assert frame[SERVED_REQUEST].tolist() == ["large"] * len(large) + ["plain"] * 3 + ["small-again"] * 2
    assert frame[SERVED_SCORE].tolist() == [0.1] * len(large) + [0.2] * 3 + [0.3] * 2
    assert frame["income"].tail(2).isna().all() and frame["income"].head(len(large)).notna().any()
    declaration = loans_declaration()
    assert check_against_schema(normalize_times(frame, declaration), contract_schema(declaration, False)).passed
