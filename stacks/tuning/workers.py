"""Several workers on one shared study: heartbeats, a dead worker's trial failed and retried once.

Each trial a worker claims (sharedstore.py: its row) also gets a RUNNING trial in a small Optuna study of its
own, `<run>.workers`, whose heartbeat this process records every `heartbeat` seconds. Every worker, between
trials, fails the trials whose heartbeat is older than the grace period (Optuna's `fail_stale_trials`): the
one worker whose update moves a trial to FAIL runs the callback, so a stale trial is handled once
(optuna/optuna@v5.0.0 optuna/storages/_heartbeat.py `fail_stale_trials`; the update takes the trial row
FOR UPDATE, optuna/optuna@v5.0.0 optuna/storages/_rdb/storage.py `set_trial_state_values`). The callback,
`RetryHeartbeatStaleTrialCallback(max_retry=1)` (optuna/optuna@v5.0.0 optuna/storages/_callbacks.py; in
5.0.0 `RetryFailedTrialCallback` is its deprecated alias), queues a WAITING copy with the same user
attributes (the point's key and the lapsed attempt) once; a worker pops it by the same FOR UPDATE move to
RUNNING that `Study.ask` uses (optuna/optuna@v5.0.0 optuna/study/study.py `_pop_waiting_trial_id`), takes
the row over and runs the point again. A retry that lapses too is failed in the results for good.

Staleness compares the server's `now()` with the heartbeat the server stamped (`record_heartbeat`,
`_get_stale_trial_ids` in optuna/optuna@v5.0.0 optuna/storages/_rdb/storage.py): the workers' clocks may
differ. The study holds no parameters, only the point's key and attempt number.

The strategy's study (`<run>`, what optuna-dashboard shows) is a separate one without heartbeats: TPE's
`ask` there must never pop a retry.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from benchmarks.secrets import scrub

from .sharedstore import SharedTrialStore

SUFFIX = ".workers"
MAX_RETRY = 1  # a point whose worker dies is run once more; a second death fails it
DEFAULT_HEARTBEAT = 20  # seconds between heartbeats; a trial is stale after GRACE_FACTOR of them
GRACE_FACTOR = 3
DIED_TWICE = "the workers running this trial stopped sending heartbeats twice (killed, or cut off from the database); not retried again"


@dataclass
class Claim:
    key: str
    attempt: int
    trial_id: int
    retry_of: int | None = None  # the lapsed attempt this one retries


class Coordinator:
    """One per process: its claims' heartbeats, stale detection, retries."""

    def __init__(
        self,
        store: SharedTrialStore,
        url: str,
        run: str,
        heartbeat: int = DEFAULT_HEARTBEAT,
        note: Callable[[str], None] = lambda m: None,
    ):
        self.store = store
        self.run = run
        self.heartbeat = heartbeat
        self.note = note
        with warnings.catch_warnings():  # heartbeat_interval and the retry callback are experimental in Optuna 5
            warnings.simplefilter("ignore")
            self.retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
            with store.schema_lock():  # Optuna creates its tables on first use: one worker at a time
                self.storage = RDBStorage(
                    url,
                    heartbeat_interval=heartbeat,
                    grace_period=GRACE_FACTOR * heartbeat,
                    heartbeat_stale_trial_callback=self._stale,
                )
                self.study = optuna.create_study(study_name=run + SUFFIX, storage=self.storage, load_if_exists=True)
        self.study_id = self.storage.get_study_id_from_name(run + SUFFIX)
        self._held: dict[int, Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beater = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beater.start()

    # ---------------------------------------------------------------- claims

    def hold(self, key: str, attempt: int) -> Claim:
        """The heartbeat trial of a point this process just claimed; its first beat is recorded now."""
        template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={"key": key, "attempt": attempt})
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return self._hold(Claim(key, attempt, trial_id))

    def _hold(self, claim: Claim) -> Claim:
        self.storage.record_heartbeat(claim.trial_id)
        with self._lock:
            self._held[claim.trial_id] = claim
        return claim

    def pop_retry(self) -> Claim | None:
        """A queued retry this process now holds (moved WAITING -> RUNNING by this process alone), or None."""
        for trial in self.storage.get_all_trials(self.study_id, deepcopy=False, states=(TrialState.WAITING,)):
            try:
                if not self.storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            dead = int(trial.user_attrs["attempt"])
            # The attempt this retry will be, recorded before the row is taken: should this worker die too,
            # the callback fails the row (fail_abandoned matches any attempt up to this one).
            self.storage.set_trial_user_attr(trial._trial_id, "attempt", dead + 1)
            return self._hold(Claim(str(trial.user_attrs["key"]), dead + 1, trial._trial_id, retry_of=dead))
        return None

    def release(self, claim: Claim, finished: bool) -> None:
        """The trial ended here: COMPLETE when it has a result, FAIL when it was interrupted (no retry: the
        row is free for whichever worker runs next). A trial already failed as stale is left as it is."""
        with self._lock:
            self._held.pop(claim.trial_id, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.storage.set_trial_state_values(
                    claim.trial_id,
                    TrialState.COMPLETE if finished else TrialState.FAIL,
                    values=[0.0] if finished else None,
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                pass

    # ---------------------------------------------------------------- dead workers

    def fail_stale(self) -> None:
        """Fail the trials of workers whose heartbeat lapsed; the callback queues each one retry."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fail_stale_trials(self.study)

    def _stale(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        key, attempt = str(trial.user_attrs.get("key")), int(trial.user_attrs.get("attempt", 0))
        retried = len(RetryHeartbeatStaleTrialCallback.retry_history(trial)) + 1  # with this failure
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.retry(study, trial)
        if retried > MAX_RETRY:
            self.store.fail_abandoned(self.run, key, attempt, DIED_TWICE)
            self.note(f"trial {key}: {DIED_TWICE}")
        else:
            self.note(
                f"trial {key}: its worker stopped sending heartbeats (attempt {attempt}); queued to run once more"
            )

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with self._lock:
                ids = list(self._held)
            for trial_id in ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception as exc:
                    self.note(scrub(f"heartbeat not recorded: {type(exc).__name__}: {exc}"))

    def close(self) -> None:
        self._stop.set()
        self._beater.join()
        self.storage.remove_session()
        self.storage.engine.dispose()
