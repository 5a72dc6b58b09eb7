// etcd server built from the pinned go.etcd.io/etcd/server/v3 module.
//
// `go install go.etcd.io/etcd/server/v3@VERSION` does not work because the
// upstream module carries replace directives, so this small module consumes
// it as a normal dependency and calls the same entry point as upstream's
// server/main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
