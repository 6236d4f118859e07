"""The results store (bench/store.py): concurrent writers, partial lines, malformed lines, the umask, SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from visionkit import VisionkitError
from visionkit.bench import ResultStore

ROOT = Path(__file__).resolve().parents[2]

_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from visionkit.bench.store import ResultStore
    out, tag, go = sys.argv[1], sys.argv[2], sys.argv[3]
    store = ResultStore(out)
    open(go + "." + tag, "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.005)
    for i in range({n}):
        key = f"{{tag}}-{{i}}"
        if key not in store:
            store.add({{"key": key, "writer": tag, "i": i, "pad": "x" * 3000}})
    """
)


def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    out, go = tmp_path / "out", tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(root=str(ROOT), n=50))
    procs = [subprocess.Popen([sys.executable, str(script), str(out), tag, str(go)], stderr=subprocess.PIPE) for tag in "ab"]
    deadline = time.time() + 60
    while not all(Path(f"{go}.{t}").exists() for t in "ab") and time.time() < deadline:
        time.sleep(0.01)
    go.touch()  # both start adding at the same moment
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 100
    recs = [json.loads(line) for line in lines]  # every line whole
    assert sorted(r["key"] for r in recs) == sorted(f"{t}-{i}" for t in "ab" for i in range(50))
    assert len(ResultStore(out)) == 100


def test_key_in_store_sees_records_other_writers_added(tmp_path):
    a, b = ResultStore(tmp_path), ResultStore(tmp_path)
    assert "k1" not in a and len(a) == 0
    assert b.add({"key": "k1", "v": 1}) is True
    assert "k1" in a and len(a) == 1 and a.records == [{"key": "k1", "v": 1}]
    # a second add of a finished run is not written twice, whichever store instance tries
    assert a.add({"key": "k1", "v": 2}) is False
    assert (tmp_path / "results.jsonl").read_text().count("\n") == 1
    assert ResultStore(tmp_path).records[0]["v"] == 1


def test_partial_last_line_is_never_merged_into_the_next_record(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"key": "a"}) + "\n" + '{"key": "half-writ')  # a writer killed mid-line
    store = ResultStore(tmp_path)
    assert [r["key"] for r in store.records] == ["a"]
    with pytest.warns(UserWarning, match=r"results.jsonl: line 2 skipped: not valid JSON"):
        store.add({"key": "b"})
    lines = path.read_text().splitlines()
    assert lines[-1] == json.dumps({"key": "b"}) and lines[1] == '{"key": "half-writ'
    with pytest.warns(UserWarning, match="line 2"):
        assert [r["key"] for r in ResultStore(tmp_path).records] == ["a", "b"]


@pytest.mark.parametrize("bad, why", [
    ("[1, 2]", "expected a JSON object, got list"),
    ("null", "expected a JSON object, got NoneType"),
    ('{"accuracy": 0.5}', "expected a record with a string 'key', got no key"),
    ('{"key": 5}', "expected a record with a string 'key', got 5"),
    ("{not json", "not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
    ("[" * 100_000, "not valid JSON (nested too deeply)"),  # a RecursionError in the parser
    ('{"key": ' + "9" * 5000 + "}", "not valid JSON (ValueError: Exceeds the limit (4300 digits)"),
])
def test_malformed_lines_are_skipped_with_a_warning_naming_the_line(tmp_path, bad, why):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"key": "a"}\n' + bad.encode("latin-1") + b'\n{"key": "b"}\n')
    with pytest.warns(UserWarning, match=f"{path.name}: line 2 skipped: ") as rec:
        store = ResultStore(tmp_path)
        keys = [r["key"] for r in store.records]
    assert keys == ["a", "b"] and "a" in store and len(store) == 2
    assert any(why in str(w.message) and str(path) in str(w.message) for w in rec)
    with pytest.warns(UserWarning, match="line 2"):
        store = ResultStore(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a line is reported once per store, not on every look
        store.add({"key": "c"})
        assert len(store) == 3


def test_add_rejects_records_without_a_key(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(VisionkitError, match="string 'key'.*got dict with keys \\['accuracy'\\]"):
        store.add({"accuracy": 1.0})
    with pytest.raises(VisionkitError, match="got list"):
        store.add([1, 2])
    assert not (tmp_path / "results.jsonl").exists()


def test_results_file_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        ResultStore(tmp_path / "o").add({"key": "a"})
    finally:
        os.umask(old)
    assert (tmp_path / "o" / "results.jsonl").stat().st_mode & 0o777 == 0o644
    assert not list((tmp_path / "o").glob("*.tmp"))


def test_store_of_a_missing_folder_is_empty_and_creates_nothing(tmp_path):
    store = ResultStore(tmp_path / "none")
    assert len(store) == 0 and "x" not in store and store.records == []
    assert not (tmp_path / "none").exists()


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import _register_test_methods, _Flatten
    from visionkit import registry
    from visionkit.bench import load_data, run_experiment
    _register_test_methods()
    class Slow(_Flatten):
        def fit(self, images, labels):
            time.sleep(0.3)
            return super().fit(images, labels)
    from sklearn.neighbors import NearestCentroid
    registry.register("test-slow", lambda **p: Slow(NearestCentroid()), family="classical")
    run_experiment(load_data("digits"), ["test-slow"], out={out!r}, per_class=[2, 3, 4, 5, 6, 7, 8, 9, 10, 11], seeds=[0], progress=False)
    """
)


@pytest.mark.slow
def test_sigkill_loses_nothing_finished(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests" / "bench"), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = results.read_text().splitlines()
    assert 3 <= len(lines) < 10
    parsed = [json.loads(line) for line in lines]  # no partial line
    assert not list(out.glob("*.tmp"))  # appends only: no temporary files
    done = {r["per_class"] for r in parsed}
    # rerun: finishes the rest, keeps the finished ones, no duplicate
    subprocess.run([sys.executable, str(script)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    final = ResultStore(out).records
    assert len(final) == 10 and len({r["key"] for r in final}) == 10
    assert done <= {r["per_class"] for r in final}
    kept = {r["key"]: r["finished_at"] for r in parsed}
    assert all(kept[r["key"]] == r["finished_at"] for r in final if r["key"] in kept)
