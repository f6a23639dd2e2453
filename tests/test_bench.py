"""The benchmark harness runs every dpzoo method and reports comparable rows (no timing asserted)."""

from dpzoo import bench


def test_measure_reports_each_method_with_its_physical_rows():
    results = bench.measure(
        model_name="tutorial_cnn",
        input_shape=(28, 28, 1),
        batch_size=256,
        methods=("nonprivate", "dpzoo", "dpzoo_ghost"),
        rounds=1,
        seconds_per_round=0.05,
    )
    assert [r.method for r in results] == ["nonprivate", "dpzoo", "dpzoo_ghost"]
    assert all(r.examples_per_second > 0 for r in results)
    rows = {r.method: r.physical_batch_size for r in results}
    assert rows["nonprivate"] == 256 and rows["dpzoo"] == rows["dpzoo_ghost"] > 256  # Poisson padding
    table = bench.markdown_table("t", results)
    assert "dpzoo_ghost" in table and "1x" in table
