// Package envprovider is the "env" config provider of otelcol-vigil.
//
// The upstream provider hands an environment variable's value back to the collector as
// configuration text: "$$" in it becomes "$", "${env:OTHER}" is expanded, and "1" or "a: b"
// change type. Vigil passes header values and credentials (from Secrets, which it never reads)
// through the environment, so this provider returns them as plain strings with every "$"
// escaped: after the collector's own unescaping the exporter sees the value byte for byte.
package envprovider // import "github.com/vigil-operator/vigil/otelcol/envprovider"

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

const schemeName = "env"

// The names Vigil renders (VIGIL_<SINK>_<FIELD>), and every other valid variable name.
var validName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

type provider struct{}

// NewFactory returns the factory of the "env" provider: `${env:NAME}` is NAME's value, verbatim.
func NewFactory() confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return &provider{} })
}

func (*provider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	name, found := strings.CutPrefix(uri, schemeName+":")
	if !found {
		return nil, fmt.Errorf("%q uri is not supported by %q provider", uri, schemeName)
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("environment variable %q has invalid name: must match %s", name, validName)
	}
	value, exists := os.LookupEnv(name)
	if !exists {
		return nil, fmt.Errorf("environment variable %q is not set", name)
	}
	return confmap.NewRetrieved(strings.ReplaceAll(value, "$", "$$"))
}

func (*provider) Scheme() string { return schemeName }

func (*provider) Shutdown(context.Context) error { return nil }
