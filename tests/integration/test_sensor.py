"""Integration tests of the sensor pipeline over HTTP (issue 15): a generated WISDM recording
uploaded with its quirks counted, the refusals (422 naming line and field, or the option), a
timeseries CSV, windows derived (201, kind windows) and their hostile requests, and sweeps split
by subject: a small grid on spectrogram windows clearly beats the same grid on single samples,
a sweep tested on held-out subjects, and the 422s of split_by and test.subjects.
Usage: test_sensor.py MLPTUNE_BINARY TEST_DATA_DIR"""
import contextlib
import os
import subprocess
import sys

from harness import Server, problem, read, run

GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "sensorgen.py")


def generate(*args):
    return subprocess.run([sys.executable, GEN] + list(args), check=True,
                          stdout=subprocess.PIPE).stdout


@contextlib.contextmanager
def server():
    srv = Server(workers=2)
    try:
        yield srv
    except Exception:
        print(srv.logs())
        raise
    finally:
        srv.stop()


def upload_wisdm(srv, data, name="rec", expect=201):
    return srv.json("POST", "/api/v1/datasets", *multipart({"format": "wisdm", "name": name},
                                                           {"file": ("rec.txt", data)}),
                    expect=expect)


def multipart(fields, files, order=None):
    boundary = "sensor-test-boundary-51c2"
    parts = []
    items = [(k, v, None) for k, v in fields.items()] + \
            [(k, d, fn) for k, (fn, d) in files.items()]
    if order:
        items.sort(key=lambda it: order.index(it[0]))
    for k, v, fn in items:
        if fn is None:
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                          % (boundary, k, v)).encode())
        else:
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                          "Content-Type: text/plain\r\n\r\n" % (boundary, k, fn)).encode()
                         + v + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary}


def post_multipart(srv, fields, files, order=None):
    body, hdrs = multipart(fields, files, order)
    return srv.request("POST", "/api/v1/datasets", body, hdrs)


def test_wisdm_upload_counts_quirks():
    data = generate("--subjects", "3", "--seconds", "20", "--seed", "5")
    lines = data.decode().split("\n")
    records = [r for l in lines for r in l.split(";")]
    trailing = sum(1 for r in records if r.count(",") == 6 and r.endswith(","))
    no_semicolon = sum(1 for l in lines if l.split(";")[-1].strip())
    several = sum(max(0, len([r for r in l.split(";") if r.strip()]) - 1) for l in lines)
    assert trailing and no_semicolon and several
    with server() as srv:
        _, hdrs, ds = upload_wisdm(srv, data)
        assert ds["kind"] == "recording" and ds["format"] == "wisdm", ds
        assert hdrs["location"] == "/api/v1/datasets/%d" % ds["id"]
        assert ds["quirks"]["trailing_comma"] == trailing, (ds["quirks"], trailing)
        assert ds["quirks"]["missing_semicolon"] == no_semicolon
        assert ds["quirks"]["several_on_one_line"] == several
        assert ds["quirks"]["empty_value"] > 0
        assert all(v == 0 for v in ds["skipped"].values()), ds["skipped"]
        assert [s["id"] for s in ds["subjects"]] == [1, 2, 3]
        assert sum(s["samples"] for s in ds["subjects"]) == ds["rows"]
        assert abs(ds["sampling_rate_hz"] - 20.0) < 0.2, ds["sampling_rate_hz"]
        assert ds["gaps"]["count"] >= 1 and ds["features"] == 3 and ds["classes"] != []
        assert ds["channels"] == ["x", "y", "z"] and sum(ds["class_counts"]) == ds["rows"]
        # the same file with `format` after it: parsed again from its copy, same dataset
        status, _, late = srv.json("POST", "/api/v1/datasets", *multipart(
            {"format": "wisdm"}, {"file": ("rec.txt", data)}, order=["file", "format"]))
        assert status == 201, late
        assert late["rows"] == ds["rows"] and late["quirks"] == ds["quirks"]
        # GET answers the same details
        _, _, again = srv.json("GET", "/api/v1/datasets/%d" % ds["id"], expect=200)
        assert again["quirks"] == ds["quirks"] and again["subjects"] == ds["subjects"]
        # a raw text/csv body with the format as a query argument
        status, _, raw = srv.json("POST", "/api/v1/datasets?format=wisdm&name=raw", data,
                                  {"Content-Type": "text/csv"})
        assert status == 201 and raw["kind"] == "recording" and raw["rows"] == ds["rows"], raw
        problem(srv.request("POST", "/api/v1/datasets?format=wisdm&subject_column=s", data,
                            {"Content-Type": "text/csv"}), 422)
        # skipped records: counted with their first lines
        bad = data + b"1,Walking,12x,1,2,3;\n1,Walking,99,1,2;\n"
        _, _, sk = upload_wisdm(srv, bad, name="bad")
        n = len(lines)
        assert sk["skipped"]["bad_timestamp"] == 1 and sk["skipped"]["field_count"] == 1
        assert sk["skipped_lines"]["bad_timestamp"] == [n], (sk["skipped_lines"], n)


def test_refusals():
    with server() as srv:
        cases = [
            ({"format": "wisdm"}, b"1,Walking,100,1,2,3;\n1,Walking,200,1,2,3;\n", "file",
             "line 1, field 2 (activity)"),
            ({"format": "wisdm"}, b"1,Walking,100,x,2,3;\n", "file", "line 1, field 4 (x)"),
            ({"format": "wisdm"}, b"1,Walking,0,1,2,3;\n2,Sitting,0,1,2,3;\n", "file",
             "no timestamps"),
            ({"format": "wisdm"}, b"", "file", "no usable record"),
            ({"format": "timeseries"}, b"who,label,timestamp,x\n1,a,1,2\n", "subject_column",
             "subject"),
            ({"format": "timeseries", "subject_column": "nobody"},
             b"subject,label,timestamp,x\n1,a,1,2\n", "subject_column", "nobody"),
            ({"format": "timeseries"}, b"subject,label,x\n1,a,2\n", "timestamp_column",
             "timestamp"),
            ({"format": "csv", "subject_column": "s"}, read("iris.csv"), "subject_column",
             "timeseries only"),
            ({"format": "parquet"}, b"x", "format", "unknown format"),
            ({"format": "timeseries", "timestamp_unit": "fortnights"}, b"x", "timestamp_unit",
             "ns, us, ms, s"),
            ({"format": ""}, b"x", "format", "empty"),
        ]
        for fields, data, field, text in cases:
            body = problem(post_multipart(srv, fields, {"file": ("f.txt", data)}), 422)
            assert body["errors"][0]["field"] == field, (fields, body)
            assert text in body["errors"][0]["message"], (fields, body)
        body = problem(post_multipart(srv, {"format": "idx"}, {"file": ("f.csv", read("iris.csv"))}),
                       422)
        assert body["errors"][0]["field"] == "format", body
        body = problem(post_multipart(srv, {"format": "wisdm", "format ": "x"},
                                      {"file": ("f", b"")}), 422)


def test_timeseries_upload():
    data = generate("--subjects", "2", "--seconds", "10", "--format", "timeseries", "--unit", "ms")
    with server() as srv:
        status, _, ds = srv.json("POST", "/api/v1/datasets", *multipart(
            {"format": "timeseries", "timestamp_unit": "ms", "label_column": "activity"},
            {"file": ("rec.csv", data)}))
        assert status == 201, ds
        assert ds["kind"] == "recording" and ds["format"] == "timeseries"
        assert abs(ds["sampling_rate_hz"] - 20.0) < 0.2, ds
        assert ds["channels"] == ["x", "y", "z"] and len(ds["subjects"]) == 2
        # a preview stays small: 200 s at 200 Hz x 3 axes is over its 100000 values
        fast = generate("--subjects", "2", "--seconds", "2", "--rate", "200", "--format",
                        "timeseries", "--unit", "us")
        status, _, f = srv.json("POST", "/api/v1/datasets", *multipart(
            {"format": "timeseries", "timestamp_unit": "us"}, {"file": ("fast.csv", fast)}))
        assert status == 201 and abs(f["sampling_rate_hz"] - 200) < 2, f
        b = problem(srv.request("GET", "/api/v1/datasets/%d/preview?window_seconds=200&"
                                "frame_seconds=1" % f["id"]), 422)
        assert b["errors"][0]["field"] == "query.window_seconds" and "100000" in b["detail"], b


def derive(srv, rec_id, body, expect=None):
    return srv.json("POST", "/api/v1/datasets/%d/windows" % rec_id, body, expect=expect)


def test_windows_route():
    data = generate("--subjects", "3", "--seconds", "30", "--seed", "2")
    with server() as srv:
        _, _, rec = upload_wisdm(srv, data)
        _, hdrs, w = derive(srv, rec["id"], {"window_seconds": 10, "step_seconds": 5,
                                              "features": "spectrogram", "frame_seconds": 2,
                                              "hop_seconds": 1, "max_gap_seconds": 1,
                                              "name": "spec"}, expect=201)
        assert w["kind"] == "windows" and w["name"] == "spec", w
        assert hdrs["location"] == "/api/v1/datasets/%d" % w["id"]
        assert w["source"] == {"dataset_id": rec["id"], "name": "rec"}
        assert w["parameters"]["features"] == "spectrogram"
        assert w["shape"]["window_samples"] == 200 and w["shape"]["bins"] == 21
        assert w["features"] == 3 * 9 * 21 and w["rows"] > 0
        assert sum(s["windows"] for s in w["subjects"]) == w["rows"]
        _, _, st = derive(srv, rec["id"], {"features": "stats"}, expect=201)
        assert st["features"] == 43 and st["name"] == "rec-stats"
        _, _, raw = derive(srv, rec["id"], {"features": "raw", "window_seconds": 2,
                                            "step_seconds": 1}, expect=201)
        assert raw["features"] == 40 * 3
        # hostile requests
        _, _, iris = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        cases = [
            (iris["id"], {}, "dataset", "not a recording"),
            (rec["id"], {"window": 10}, "window", "unknown member"),
            (rec["id"], {"window_seconds": -1}, "window_seconds", "more than 0"),
            (rec["id"], {"window_seconds": "10"}, "window_seconds", "number"),
            (rec["id"], {"window_seconds": 1e9}, "window_seconds", "86400"),
            (rec["id"], {"window_seconds": 0.05}, "window_seconds", "2 samples"),
            (rec["id"], {"window_seconds": 2, "frame_seconds": 3}, "frame_seconds", "longer"),
            (rec["id"], {"features": "wavelets"}, "features", "spectrogram, stats, raw"),
            (rec["id"], {"features": "stats", "hop_seconds": 1}, "hop_seconds", "spectrogram"),
            (rec["id"], {"max_gap_seconds": -0.5}, "max_gap_seconds", "at least 0"),
            (rec["id"], {"window_seconds": 1000}, "window_seconds", "no window fits"),
            (rec["id"], {"window_seconds": 3000}, "window_seconds", "over the limit"),
            (rec["id"], {"name": ""}, "name", ""),
            (rec["id"], [], "body", "object"),
        ]
        for ds_id, body, field, text in cases:
            b = problem(derive(srv, ds_id, body), 422)
            assert b["errors"][0]["field"] == field, (body, b)
            assert text in b["errors"][0]["message"], (body, b)
        problem(derive(srv, 999, {}), 404)
        # the dashboard's preview: one window per class, its samples and spectrogram
        _, _, pv = srv.json("GET", "/api/v1/datasets/%d/preview" % rec["id"], expect=200)
        assert pv["window_samples"] == 200 and pv["frames"] == 9 and pv["bins"] == 21, pv.keys()
        assert sorted(w["class"] for w in pv["windows"]) == sorted(rec["classes"])
        for win in pv["windows"]:
            assert len(win["samples"]) == 200 and len(win["samples"][0]) == 3
            assert len(win["spectrogram"]) == 3 and len(win["spectrogram"][0]) == 9
            assert len(win["spectrogram"][0][0]) == 21 and win["subject"] in (1, 2, 3)
        _, _, pv2 = srv.json("GET", "/api/v1/datasets/%d/preview?window_seconds=4&frame_seconds=1"
                             % rec["id"], expect=200)
        assert pv2["window_samples"] == 80 and pv2["bins"] == 11
        problem(srv.request("GET", "/api/v1/datasets/%d/preview" % iris["id"]), 409)
        b = problem(srv.request("GET", "/api/v1/datasets/%d/preview?window_seconds=x" % rec["id"]),
                    422)
        assert b["errors"][0]["field"] == "query.window_seconds", b
        b = problem(srv.request("GET", "/api/v1/datasets/%d/preview?window_seconds=2&frame_seconds=3"
                                % rec["id"]), 422)
        assert b["errors"][0]["field"] == "query.frame_seconds", b
        problem(srv.request("GET", "/api/v1/datasets/%d/preview?colour=1" % rec["id"]), 422)
        problem(srv.request("GET", "/api/v1/datasets/999/preview"), 404)
        problem(srv.request("POST", "/api/v1/datasets/%d/windows" % rec["id"], b"{",
                            {"Content-Type": "application/json"}), 400)


def sweep(srv, ds_id, training=None, test=None, expect=201):
    body = {"dataset_id": ds_id,
            "grid": {"hidden_layers": [1], "neurons": [64], "learning_rate": [0.1],
                     "iterations": [40]},
            "training": dict({"batch_size": 32, "validation_split": 0.25, "seed": 7},
                             **(training or {}))}
    if test is not None:
        body["test"] = test
    return srv.json("POST", "/api/v1/sweeps", body, expect=expect)


def best_trial(srv, sweep_id):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=10" % sweep_id, expect=200)
    _, _, t = srv.json("GET", "/api/v1/trials/%d" % page["items"][0]["id"], expect=200)
    return t


def test_sweeps_split_by_subject():
    data = generate("--subjects", "8", "--seconds", "60", "--seed", "11")
    with server() as srv:
        _, _, rec = upload_wisdm(srv, data)
        _, _, w = derive(srv, rec["id"], {"step_seconds": 2.5}, expect=201)
        _, _, sw = sweep(srv, w["id"])
        _, _, single = sweep(srv, rec["id"])
        _, _, held = sweep(srv, w["id"], test={"subjects": [1, 2]})
        for s in (sw, single, held):
            done = srv.wait_sweep(s["id"], timeout=600)
            assert done["status"] == "completed", done
        tw, ts, th = best_trial(srv, sw["id"]), best_trial(srv, single["id"]), \
            best_trial(srv, held["id"])
        assert tw["params"]["split_by"] == "auto"
        print("validation accuracy split by subject: windows %.3f, single samples %.3f"
              % (tw["best_val_accuracy"], ts["best_val_accuracy"]))
        assert tw["best_val_accuracy"] > ts["best_val_accuracy"] + 0.15, (tw, ts)
        assert th["params"]["test_subjects"] == [1, 2], th["params"]
        assert th["test_accuracy"] is not None and th["test_accuracy"] > 0.4, th
        # the confusion matrix on the validation split: its total is the validation rows, its
        # diagonal the trial's final validation accuracy
        _, _, cm = srv.json("GET", "/api/v1/trials/%d/confusion" % tw["id"], expect=200)
        assert cm["classes"] == w["classes"] and cm["split_by"] == "group"
        total = sum(map(sum, cm["matrix"]))
        assert total == cm["rows"] > 0, cm
        diag = sum(cm["matrix"][i][i] for i in range(len(cm["classes"])))
        assert abs(diag / total - tw["final_val_accuracy"]) < 1e-9, (cm, tw)
        _, _, cs = srv.json("GET", "/api/v1/trials/%d/confusion" % ts["id"], expect=200)
        assert abs(cs["accuracy"] - ts["final_val_accuracy"]) < 1e-9, (cs, ts)
        problem(srv.request("GET", "/api/v1/trials/999/confusion"), 404)
        problem(srv.request("GET", "/api/v1/trials/%d/confusion?x=1" % tw["id"]), 422)
        # 422s naming the field
        _, _, iris = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        cases = [
            (w["id"], None, {"subjects": [99]}, "test.subjects[0]", "no subject 99"),
            (w["id"], None, {"subjects": list(range(1, 9))}, "test.subjects", "every subject"),
            (w["id"], None, {"subjects": []}, "test.subjects", "non-empty"),
            (w["id"], None, {"subjects": [1, 1]}, "test.subjects[1]", "twice"),
            (w["id"], None, {"subjects": ["1"]}, "test.subjects[0]", "subject id"),
            (w["id"], None, {"people": [1]}, "test.people", "unknown"),
            (w["id"], None, [1], "test", "object"),
            (iris["id"], None, {"subjects": [1]}, "test.subjects", "no subjects"),
            (iris["id"], {"split_by": "group"}, None, "training.split_by", "no subjects"),
            (w["id"], {"split_by": "person"}, None, "training.split_by", ""),
        ]
        for ds_id, tr, test, field, text in cases:
            b = problem(sweep(srv, ds_id, training=tr, test=test, expect=None), 422)
            fields = [e["field"] for e in b["errors"]]
            assert field in fields, (test, tr, b)
            msg = b["errors"][fields.index(field)]["message"]
            assert text in msg, (test, tr, b)
        body = {"dataset_id": w["id"], "test_dataset_id": w["id"], "test": {"subjects": [1]},
                "grid": {"hidden_layers": [1], "neurons": [4], "learning_rate": [0.1],
                         "iterations": [1]}}
        b = problem(srv.json("POST", "/api/v1/sweeps", body), 422)
        assert "test" in [e["field"] for e in b["errors"]], b


if __name__ == "__main__":
    run([test_wisdm_upload_counts_quirks, test_refusals, test_timeseries_upload,
         test_windows_route, test_sweeps_split_by_subject])
