// actionlint built from the pinned github.com/rhysd/actionlint module (upstream
// cmd/actionlint/main.go): it checks the GitHub Actions workflows under .github/workflows.
package main

import (
	"os"

	"github.com/rhysd/actionlint"

	_ "time/tzdata"
)

func main() {
	cmd := actionlint.Command{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
	os.Exit(cmd.Main(os.Args))
}
