//go:build !linux

package bench

import (
	"errors"
	"os/exec"
)

func newPinning(string) (*pinning, error) {
	return nil, errors.New("pinning servers to CPUs needs Linux")
}

func (p *pinning) startCmd(cmd *exec.Cmd) error { return cmd.Start() }
