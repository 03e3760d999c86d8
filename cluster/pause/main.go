// Command pause is the sandbox ("pause") container of the local cluster's
// pods: it holds the pod's namespaces, reaps orphaned children (it is PID 1
// of the pod when the process namespace is shared) and exits on SIGTERM or
// SIGINT. The upstream image cannot be pulled here, so the cluster harness
// builds this one from source.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
