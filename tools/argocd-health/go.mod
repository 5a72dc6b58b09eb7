module github.com/vigil-operator/vigil/tools/argocd-health

go 1.26.0

// The versions Argo CD v3.6.1 builds with (its go.mod).
require (
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-json v0.0.0-20190114024228-97fed8db8427
)
