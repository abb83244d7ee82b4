"""joblib's worker processes: a one-shot run (the CLI) stops them before the report; a run in
a process that goes on (a notebook, the test session) keeps them for the next run."""

from __future__ import annotations

from joblib import Parallel, delayed
from joblib.externals.loky import reusable_executor

from exportcast.configs import load_config
from exportcast.flows.pipeline import run_pipeline


def _workers_alive() -> bool:
    executor = reusable_executor._executor
    return executor is not None and not executor._flags.shutdown


def test_workers_are_stopped_only_when_the_process_ends_with_the_run(tmp_path):
    Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4))  # joblib's reusable workers
    assert _workers_alive()
    cfg = load_config(overrides=[f"output.dir={tmp_path}", "forecast.enabled=false"])
    run_pipeline(cfg, log=lambda _: None)
    assert _workers_alive()  # kept for the next run in this process
    run_pipeline(cfg, log=lambda _: None, release_workers=True)
    assert not _workers_alive()


def test_return_free_memory_collects_cycles_and_trims_the_heap() -> None:
    import gc
    import weakref

    from exportcast.flows.workers import return_free_memory

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # only the cycle collector frees these
    alive = weakref.ref(a)
    gc.disable()  # no automatic collection in between
    try:
        del a, b
        assert alive() is not None
        assert return_free_memory() is True  # glibc on this platform: malloc_trim called
        assert alive() is None  # the cycle was collected
    finally:
        gc.enable()


def test_trimming_logs_then_frees_and_trimmed_frees_around_the_call(monkeypatch):
    from exportcast.flows import workers

    calls: list[str] = []
    monkeypatch.setattr(workers, "return_free_memory", lambda: calls.append("free") or True)
    workers.trimming(calls.append)("origin 2003: ...")
    assert calls == ["origin 2003: ...", "free"]
    calls.clear()
    assert workers.trimmed(lambda a, b: calls.append("call") or a + b, 2, 3) == 5
    assert calls == ["free", "call", "free"]
