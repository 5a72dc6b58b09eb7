"""dataflow.py: a collector's export counters per sink, and when a sink keeps failing."""

from __future__ import annotations

import pytest

from vigil import dataflow, status
from vigil.dataflow import Counts
from vigil.models.stack import DataFlow, MonitoringStackStatus, SinkDataFlow

# As otelcol-vigil 0.159.0 serves them on :8888 (tests/tools/test_dataflow.py reads the real one).
METRICS = """\
# HELP otelcol_exporter_queue_size Current size of the retry queue (in batches). [Alpha]
# TYPE otelcol_exporter_queue_size gauge
otelcol_exporter_queue_size{data_type="traces",exporter="otlp_http/gateway"} 0
# HELP otelcol_exporter_send_failed_spans_total Number of spans in failed attempts to send to destination.
# TYPE otelcol_exporter_send_failed_spans_total counter
otelcol_exporter_send_failed_spans_total{exporter="otlp_http/gateway",server_port="4318",url_path="/v1/traces"} 3
# HELP otelcol_exporter_send_failed_log_records_total Number of log records in failed attempts.
# TYPE otelcol_exporter_send_failed_log_records_total counter
otelcol_exporter_send_failed_log_records_total{exporter="otlp_http/gateway",url_path="/v1/logs"} 2
# HELP otelcol_exporter_sent_spans_total Number of spans successfully sent to destination.
# TYPE otelcol_exporter_sent_spans_total counter
otelcol_exporter_sent_spans_total{exporter="debug/console"} 7
otelcol_exporter_sent_spans_total{exporter="otlp_http/gateway",server_address="gw",url_path="/v1/traces"} 10
# HELP otelcol_exporter_sent_metric_points_total Number of metric points successfully sent to destination.
# TYPE otelcol_exporter_sent_metric_points_total counter
otelcol_exporter_sent_metric_points_total{exporter="prometheus_remote_write/mimir"} 5
# HELP otelcol_receiver_accepted_spans_total Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http"} 17
"""

T0, T1, T2, T3 = (f"2026-12-01T12:00:0{i}Z" for i in range(4))
SINKS = ["console", "gateway"]


def test_parse_sums_every_signal_per_exporter_and_ignores_other_metrics() -> None:
    assert dataflow.parse_metrics(METRICS) == {
        "otlp_http/gateway": Counts(sent=10, failed=5),
        "debug/console": Counts(sent=7),
        "prometheus_remote_write/mimir": Counts(sent=5),
    }


def test_parse_refuses_what_is_not_the_prometheus_text_format() -> None:
    with pytest.raises(ValueError, match="could not convert"):
        dataflow.parse_metrics('otelcol_exporter_sent_spans_total{exporter="x/y" 1\n')


def test_exporters_map_back_to_the_selected_sinks_only() -> None:
    counts = dataflow.per_sink(dataflow.parse_metrics(METRICS), ["gateway", "console", "absent"])
    assert counts == {"gateway": Counts(10, 5), "console": Counts(7, 0)}


def test_a_counter_that_went_down_restarted_from_zero() -> None:
    assert Counts(5, 1).growth_since(Counts(3, 1)) == Counts(2, 0)
    assert Counts(2, 0).growth_since(Counts(9, 4)) == Counts(2, 0)


def pod(**sinks: Counts) -> dict[str, Counts]:
    return dict(sinks)


def by_sink(flow: DataFlow | None) -> dict[str, SinkDataFlow]:
    assert flow is not None
    return {s.sink: s for s in flow.sinks}


def test_the_first_read_after_a_start_is_a_baseline_with_totals() -> None:
    seen = dataflow.observe(None, None, {"a": pod(gateway=Counts(10, 5)), "b": pod(gateway=Counts(1, 0))}, SINKS, T0)
    flow = by_sink(seen.flow)
    assert (flow["gateway"].sent, flow["gateway"].failed) == (11, 5)
    assert flow["gateway"].last_failure_time is None, "failures from before the operator started are not new"
    assert flow["console"] == SinkDataFlow(sink="console")
    assert seen.flow is not None
    assert seen.flow.pods == 2
    assert seen.memory == {"a": {"gateway": Counts(10, 5)}, "b": {"gateway": Counts(1, 0)}}


def test_a_sink_keeps_failing_after_two_failing_reads_and_recovers_when_data_flows() -> None:
    reads = [
        (T0, Counts(10, 0)),
        (T1, Counts(10, 4)),  # failing read: lastFailureTime, failingSince
        (T2, Counts(10, 9)),  # failing again: keeps failing
        (T3, Counts(30, 9)),  # sent, no new failures: recovered
    ]
    flow, memory = None, None
    seen_issues = []
    for now, counts in reads:
        seen = dataflow.observe(flow, memory, {"a": pod(gateway=counts)}, ["gateway"], now)
        flow, memory = seen.flow, seen.memory
        seen_issues.append(dataflow.issue(flow))
    assert seen_issues[:2] == [None, None]
    assert seen_issues[2] == status.Issue(
        "ExportFailing",
        f"TelemetrySink/gateway: exports have been failing since {T1} (status.dataFlow). Check that the "
        "destination is up and reachable from the collector pods and that its credentials are valid.",
    )
    assert seen_issues[3] is None
    gateway = by_sink(flow)["gateway"]
    assert (gateway.sent, gateway.failed, gateway.last_failure_time, gateway.failing_since) == (30, 9, T2, None)


def test_a_read_without_traffic_changes_nothing() -> None:
    failing = DataFlow(pods=1, sinks=[SinkDataFlow(sink="gateway", failed=4, last_failure_time=T1, failing_since=T1)])
    seen = dataflow.observe(
        failing, {"a": pod(gateway=Counts(0, 4))}, {"a": pod(gateway=Counts(0, 4))}, ["gateway"], T2
    )
    assert seen.flow == failing


def test_a_new_pod_counts_from_zero_and_a_silent_pod_keeps_its_last_counts() -> None:
    memory = {"a": pod(gateway=Counts(5, 2))}
    seen = dataflow.observe(None, memory, {"a": None, "b": pod(gateway=Counts(0, 3))}, ["gateway"], T1)
    gateway = by_sink(seen.flow)["gateway"]
    assert (gateway.failed, gateway.last_failure_time) == (3, T1), "pod b started and failed since the last read"
    assert seen.flow is not None
    assert seen.flow.pods == 1
    assert seen.memory == {"a": {"gateway": Counts(5, 2)}, "b": {"gateway": Counts(0, 3)}}
    # When pod a answers again, only what grew since its last answer is new.
    again = dataflow.observe(seen.flow, seen.memory, {"a": pod(gateway=Counts(8, 2)), "b": None}, ["gateway"], T2)
    assert by_sink(again.flow)["gateway"].failing_since is None


def test_a_rolled_out_pod_with_lower_counts_is_not_a_failure() -> None:
    memory = {"old": pod(gateway=Counts(500, 0))}
    seen = dataflow.observe(None, memory, {"new": pod(gateway=Counts(3, 0))}, ["gateway"], T1)
    gateway = by_sink(seen.flow)["gateway"]
    assert (gateway.sent, gateway.last_failure_time) == (3, None)
    assert seen.memory == {"new": {"gateway": Counts(3, 0)}}


def test_nothing_read_keeps_the_status_and_the_baseline_state() -> None:
    assert dataflow.observe(None, None, {"a": None}, SINKS, T0) == dataflow.Observation(None, None)
    assert dataflow.observe(None, {}, {}, SINKS, T0) == dataflow.Observation(None, {})


def test_status_round_trip_leaves_unset_times_out() -> None:
    flow = DataFlow(pods=2, sinks=[SinkDataFlow(sink="gateway", sent=3)])
    stored = dataflow.to_status(flow)
    assert stored == {"pods": 2, "sinks": [{"sink": "gateway", "sent": 3, "failed": 0}]}
    assert dataflow.from_status({"dataFlow": stored}) == flow
    assert dataflow.from_status({"dataFlow": {"pods": "many"}}) is None
    assert dataflow.from_status({}) is None


def test_a_reconcile_never_writes_data_flow() -> None:
    fields = status.fields_of(MonitoringStackStatus(data_flow=DataFlow(pods=1), config_hash="abc"))
    assert "dataFlow" not in fields
    assert fields["configHash"] == "abc"
