"""Executors of the comparison's runs (visionkit.bench.executors): local and a Dask cluster give the same records."""

import pickle

import pytest

from visionkit import VisionkitError
from visionkit.bench import ResultStore, load_data, run_experiment
from visionkit.bench.executors import LocalExecutor, load_split_on_worker, make_executor
from visionkit.bench.runner import RunTask, run_one
from visionkit.cli import main

SOURCE = {"spec": "digits", "size": None, "random_state": 0}


class _Spy:
    """An executor that records the tasks it is given and runs them with another."""

    def __init__(self, inner):
        self.inner, self.tasks = inner, []

    def map_runs(self, fn, tasks, split):
        tasks = list(tasks)
        self.tasks += tasks
        yield from self.inner.map_runs(fn, tasks, split)


def _same_records(a, b):
    ra = {r["key"]: r for r in ResultStore(a).records}
    rb = {r["key"]: r for r in ResultStore(b).records}
    assert ra.keys() == rb.keys() and ra
    for k in ra:
        for field in ("method", "params", "per_class", "seed", "accuracy", "mean_class_accuracy", "macro_f1",
                      "confusion_matrix", "n_train", "n_test", "resolved_params"):
            assert ra[k][field] == rb[k][field], (k, field)


def test_local_executor_runs_each_task_on_the_drivers_split_and_resumes(tmp_path):
    split = load_data("digits")
    spy = _Spy(LocalExecutor())
    run_experiment(split, ["pixels-svm"], out=str(tmp_path), per_class=[5], seeds=[0, 1], executor=spy, progress=False,
                   log=lambda *a: None)
    assert [t.base["seed"] for t in spy.tasks] == [0, 1] and len(ResultStore(tmp_path)) == 2
    again = _Spy(LocalExecutor())
    run_experiment(split, ["pixels-svm"], out=str(tmp_path), per_class=[5], seeds=[0, 1, 2], executor=again,
                   progress=False, log=lambda *a: None)
    assert [t.base["seed"] for t in again.tasks] == [2]  # stored runs are not sent again


def test_a_task_carries_the_spec_not_the_images():
    split = load_data("digits")
    task = RunTask(base={"method": "pixels-svm", "params": {}, "data": "digits", "per_class": 5, "seed": 0},
                   create_params={"random_state": 0}, keys=["k"], evals=[None])
    assert split.source == SOURCE
    assert len(pickle.dumps((run_one, task, split.source))) < 2_000  # the data set pickles to ~100 KB
    assert len(pickle.dumps(split)) > 50 * len(pickle.dumps((run_one, task, split.source)))


def test_a_worker_refuses_data_that_differ_from_the_drivers():
    split, _ = load_split_on_worker(SOURCE, dict(n_train=1257, n_test=540, classes=[str(i) for i in range(10)]))
    assert len(split.train) == 1257
    with pytest.raises(VisionkitError, match="differ from the driver's .*n_train: 100 there, 1257 here"):
        load_split_on_worker(SOURCE, dict(n_train=100, n_test=540, classes=[str(i) for i in range(10)]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="ray"), "--executor: expected one of local, dask, got 'ray'"),
    (dict(kind="local", workers=2), "--workers: only with --executor dask"),
    (dict(kind="local", address="head:8786"), "--address: only with --executor dask"),
])
def test_make_executor_refuses(kwargs, match):
    with pytest.raises(VisionkitError, match=match):
        make_executor(kwargs.pop("kind"), **kwargs)


def test_compare_workers_without_dask_is_a_one_line_error(tmp_path, capsys):
    assert main(["compare", "--methods", "pixels-svm", "--workers", "2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--workers: only with --executor dask" in err[0]


def test_dask_address_is_checked():
    pytest.importorskip("distributed", reason="Dask's distributed is not installed (pip install '.[cluster]')")
    with pytest.raises(VisionkitError, match="expected HOST:PORT"):
        make_executor("dask", address="no port")
    with pytest.raises(VisionkitError, match="give one of --workers"):
        make_executor("dask", workers=2, address="head:8786")


@pytest.mark.slow
def test_a_local_dask_cluster_of_two_workers_gives_the_local_records(tmp_path):
    pytest.importorskip("distributed", reason="Dask's distributed is not installed (pip install '.[cluster]')")
    from visionkit.bench.executors import DaskExecutor

    split = load_data("digits")
    kw = dict(per_class=[5, 20], progress=False, log=lambda *a: None)
    run_experiment(split, ["pixels-svm", "hog-svm"], out=str(tmp_path / "local"), seeds=[0], **kw)
    # the cluster resumes a folder that has seed 0 already: only seed 1 is sent
    run_experiment(split, ["pixels-svm", "hog-svm"], out=str(tmp_path / "dask"), seeds=[0], **kw)
    with DaskExecutor(workers=2) as dask:
        assert dask.n_workers == 2
        spy = _Spy(dask)
        run_experiment(split, ["pixels-svm", "hog-svm"], out=str(tmp_path / "dask"), seeds=[0, 1], executor=spy, **kw)
        assert sorted(t.base["seed"] for t in spy.tasks) == [1, 1, 1, 1]
        with pytest.raises(VisionkitError, match="built in memory"):
            in_memory = type(split)(split.name, split.train, split.test)
            run_experiment(in_memory, ["pixels-svm"], out=str(tmp_path / "mem"), seeds=[3], executor=dask, **kw)
    run_experiment(split, ["pixels-svm", "hog-svm"], out=str(tmp_path / "local"), seeds=[0, 1], **kw)
    _same_records(tmp_path / "local", tmp_path / "dask")


def test_compare_checks_the_address_before_loading_anything(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="Dask's distributed is not installed (pip install '.[cluster]')")
    import visionkit.bench

    monkeypatch.setattr(visionkit.bench, "load_data", lambda *a, **k: pytest.fail("data loaded before the options were checked"))
    assert main(["compare", "--executor", "dask", "--address", "head", "--out", str(tmp_path)]) == 2
    assert "--address: expected HOST:PORT" in capsys.readouterr().err
