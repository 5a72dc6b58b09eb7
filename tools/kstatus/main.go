// kstatus prints what sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute says about Kubernetes
// objects: the status Flux's health checks (and `kubectl`-style waiters built on kstatus) see.
//
// Usage: kstatus < objects.json
//
// Input is one object or a List (`kubectl get -o json`); output is a JSON array with one
// {apiVersion, kind, namespace, name, status, message} per object, in input order.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const kstatusModule = "sigs.k8s.io/cli-utils"

type result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Message    string `json:"message"`
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Printf("kstatus %s %s\n", kstatusModule, moduleVersion(kstatusModule))
		return
	}
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: kstatus < objects.json (one object or a List); kstatus --version")
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	objects, err := decode(data)
	if err != nil {
		return err
	}
	results := make([]result, 0, len(objects))
	for _, obj := range objects {
		computed, err := status.Compute(obj)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
		results = append(results, result{
			APIVersion: obj.GetAPIVersion(),
			Kind:       obj.GetKind(),
			Namespace:  obj.GetNamespace(),
			Name:       obj.GetName(),
			Status:     computed.Status.String(),
			Message:    computed.Message,
		})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// decode reads one object or a List with the unstructured JSON scheme, which keeps integers
// as int64 the way objects read from the API server carry them (kstatus insists on int64).
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var probe struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("stdin is not a JSON object: %w", err)
	}
	if probe.Items == nil {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("stdin is not a Kubernetes object: %w", err)
		}
		return []*unstructured.Unstructured{obj}, nil
	}
	list := &unstructured.UnstructuredList{}
	if err := list.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("stdin is not a Kubernetes List: %w", err)
	}
	objects := make([]*unstructured.Unstructured, 0, len(list.Items))
	for i := range list.Items {
		objects = append(objects, &list.Items[i])
	}
	return objects, nil
}

// moduleVersion is the version of a dependency linked into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}
