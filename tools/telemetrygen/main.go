// telemetrygen sends synthetic OTLP traces, metrics or logs at a set rate: the load of the
// collector overhead benchmark (bench/bench_collector.py).
//
// The commands and flags are upstream's (cmd/telemetrygen of opentelemetry-collector-contrib,
// whose public pkg/ packages hold every generator); this main adds only `--version`, which prints
// the version of that module read from the binary's build info.
//
// Usage: telemetrygen traces|metrics|logs [flags]; telemetrygen --version
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen/pkg/logs"
	"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen/pkg/metrics"
	"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen/pkg/traces"
)

const module = "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Printf("telemetrygen %s %s\n", module, moduleVersion())
		return
	}
	root := &cobra.Command{
		Use:   "telemetrygen",
		Short: "Simulates a client generating traces, metrics and logs",
	}
	root.CompletionOptions.DisableDefaultCmd = true

	tracesCfg := traces.NewConfig()
	tracesCmd := &cobra.Command{
		Use:   "traces",
		Short: "Simulates a client generating traces",
		RunE:  func(*cobra.Command, []string) error { return traces.Start(tracesCfg) },
	}
	tracesCfg.Flags(tracesCmd.Flags())

	metricsCfg := metrics.NewConfig()
	metricsCmd := &cobra.Command{
		Use:   "metrics",
		Short: "Simulates a client generating metrics",
		RunE:  func(*cobra.Command, []string) error { return metrics.Start(metricsCfg) },
	}
	metricsCfg.Flags(metricsCmd.Flags())

	logsCfg := logs.NewConfig()
	logsCmd := &cobra.Command{
		Use:   "logs",
		Short: "Simulates a client generating logs",
		RunE:  func(*cobra.Command, []string) error { return logs.Start(logsCfg) },
	}
	logsCfg.Flags(logsCmd.Flags())

	root.AddCommand(tracesCmd, metricsCmd, logsCmd)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}

func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == module {
			return dep.Version
		}
	}
	return "unknown"
}
